package programs

import (
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// CheckRoot checks that the pin root is still the one the Manager pins
// in: on a BPF filesystem, the same mount of it, the same directory. Call
// it before each pass. A root that changed lost its pins, and with them
// every program and link only they held: CheckRoot makes the root again,
// mounting a BPF filesystem where MountBPFFSAt allows, and returns why
// the pins were lost (lost != ""); the next Apply of each program loads
// it anew. If it cannot, it returns an *Error with Reason
// PinRootUnavailable, and so do Apply, Remove, Prune and Installed until a
// CheckRoot succeeds: nothing is loaded that could not be pinned.
func (m *Manager) CheckRoot() (lost string, err error) {
	now, err := m.layout.State()
	if err == nil && now == m.root {
		m.rootErr = nil
		return "", nil
	}
	if err != nil {
		return "", m.unavailable(err)
	}
	if m.rootErr == nil || m.lost == "" {
		m.lost = lostReason(now)
	}
	if err := m.layout.Restore(now); err != nil {
		return m.lost, m.unavailable(err)
	}
	if m.root, err = m.layout.State(); err != nil {
		return m.lost, m.unavailable(err)
	}
	lost, m.lost, m.rootErr, m.checked = m.lost, "", nil, nil
	return lost, nil
}

func (m *Manager) unavailable(err error) error {
	m.rootErr = loader.Errorf(loader.ReasonPinRootUnavailable, "%w", err)
	return m.rootErr
}

// lostReason says why a root whose state is now lost its pins. A new
// bpffs instance may get the device number of the one unmounted, so the
// device cannot tell a removed root from a bpffs mounted anew.
func lostReason(now pins.RootState) string {
	if !now.BPFFS {
		return "the BPF filesystem holding its pins was unmounted"
	}
	return "its pins were removed (the pin root was deleted, or its BPF filesystem unmounted and mounted again)"
}
