package programs

import (
	"errors"
	"fmt"
	"os"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// install loads, attaches and pins p as a new revision. On failure it
// leaves nothing behind: closing the fds of what was not pinned unloads
// and detaches it.
func (m *Manager) install(p Program) (Loaded, error) {
	objs, err := m.load(p)
	if err != nil {
		return Loaded{}, err
	}
	defer objs.Close()
	l, err := p.Attach.Attach(objs.Program)
	if err != nil {
		return Loaded{}, loader.Errorf(loader.ReasonAttachFailed, "%w", err)
	}
	defer l.Close()
	ld, err := loaded(p, m.layout.Revision(p.UID, p.Revision), objs, l)
	if err != nil {
		return Loaded{}, err
	}
	if err := m.pin(p, objs, l); err != nil {
		return Loaded{}, errors.Join(err, m.layout.RemoveRevision(p.UID, p.Revision))
	}
	return ld, nil
}

func (m *Manager) load(p Program) (*loader.Objects, error) {
	spec, err := loader.Spec(p.Object, p.ProgramName, p.GlobalData)
	if err != nil {
		return nil, err
	}
	if err := checkType(p, spec.Programs[p.ProgramName].Type); err != nil {
		return nil, err
	}
	return m.loader.LoadSpec(spec, p.ProgramName)
}

// checkType refuses, before anything is loaded, a program whose type
// cannot attach where p says.
func checkType(p Program, typ ebpf.ProgramType) error {
	if err := attach.CheckType(p.Attach, typ); err != nil {
		return loader.Errorf(loader.ReasonInvalidObject, "program %q: %w", p.ProgramName, err)
	}
	return nil
}

// pin pins everything into a staging directory, then publishes it as the
// revision directory (replacing a broken one left by a crash).
func (m *Manager) pin(p Program, objs *loader.Objects, l link.Link) error {
	if err := m.layout.RemoveRevision(p.UID, p.Revision); err != nil {
		return err
	}
	dir := m.layout.Staging(p.UID, p.Revision)
	if err := os.MkdirAll(dir.Maps(), 0o700); err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	for name, mp := range objs.Maps {
		if err := mp.Pin(dir.Map(name)); err != nil {
			return fmt.Errorf("pin map %s: %w", name, err)
		}
	}
	if err := objs.Program.Pin(dir.Prog()); err != nil {
		return fmt.Errorf("pin program: %w", err)
	}
	if err := l.Pin(dir.Link()); err != nil {
		return fmt.Errorf("pin link: %w", err)
	}
	return m.layout.Publish(p.UID, p.Revision)
}

func loaded(p Program, dir pins.Dir, objs *loader.Objects, l link.Link) (Loaded, error) {
	ld := Loaded{UID: p.UID, Revision: p.Revision, PinDir: string(dir), Maps: make(map[string]uint32)}
	var err error
	if ld.ProgramID, err = programID(objs.Program); err != nil {
		return ld, err
	}
	info, err := l.Info()
	if err != nil {
		return ld, fmt.Errorf("link info: %w", err)
	}
	ld.LinkID = uint32(info.ID)
	for name, mp := range objs.Maps {
		if ld.Maps[name], err = mapID(mp); err != nil {
			return ld, err
		}
	}
	return ld, nil
}
