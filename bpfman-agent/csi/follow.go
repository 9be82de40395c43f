package csi

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// Follow compares every published volume with the maps its program runs
// with now and with its grants, after a pass of the agent: a writable
// volume's pins are pointed at the program's maps, or removed when the
// program is gone or its mapAccess no longer grants the pod writing them;
// a read-only volume is never made writable to change its pins, so it is
// marked stale until its pod restarts. A volume whose filesystem is gone
// (the node restarted) is forgotten. It returns what it could not do.
func (d *Driver) Follow() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	errs := []error{d.forgetUnmounted()}
	for id, v := range d.vols {
		if err := d.follow(v); err != nil {
			errs = append(errs, fmt.Errorf("volume %s of pod %s: %w", id, v.Pod, err))
		}
	}
	metrics.SetVolumes(len(d.vols))
	return errors.Join(errs...)
}

// follow brings v's pins to the maps its program runs with, or says
// which it cannot (v.stale).
func (d *Driver) follow(v *volume) error {
	want, err := d.programs.MapIDs(v.UID)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("maps of %s: %w", v.Program, err)
	}
	revoked := d.revoked(v)
	if revoked != "" {
		want = nil
	}
	have, err := pinnedIDs(v.Target, v.Maps)
	if err != nil {
		return err
	}
	var moved []string
	for _, name := range v.Maps {
		switch {
		case have[name] == want[name]:
		case v.Access != bpfleetv1.MapReadWrite:
			moved = append(moved, name)
		default:
			if err := d.repin(v, name, want[name]); err != nil {
				return err
			}
		}
	}
	v.stale = staleMessage(moved, want)
	if revoked != "" {
		v.stale = revoked
	}
	return nil
}

// revoked says why v's program no longer grants what v holds, "" if it
// does (or is gone from the node's set: its maps go with it).
func (d *Driver) revoked(v *volume) string {
	np, ok, err := d.programs.Lookup(v.Program)
	if err != nil || !ok || string(np.UID) != v.UID {
		return ""
	}
	req := request{Program: v.Program, Maps: v.Maps, ReadOnly: v.Access == bpfleetv1.MapRead, Pod: v.Pod}
	_, access, err := decide(req, np.MapAccess)
	switch {
	case err != nil:
		return "no longer granted: " + err.Error()
	case access != v.Access:
		return "no longer granted ReadWrite: the pod's writable pins are removed"
	}
	return ""
}

// repin points the writable volume's pin name at the program's map of
// kernel ID id, or removes it when the program has none (id 0).
func (d *Driver) repin(v *volume, name string, id uint32) error {
	var m *ebpf.Map
	if id != 0 {
		var err error
		if m, err = d.programs.Map(v.UID, name); err != nil {
			return fmt.Errorf("map %s of %s: %w", name, v.Program, err)
		}
		defer m.Close()
	}
	return replacePin(v.Target, name, m)
}

// staleMessage says which of a read-only volume's maps the program no
// longer uses (want: the maps it runs with now).
func staleMessage(moved []string, want map[string]uint32) string {
	if len(moved) == 0 {
		return ""
	}
	if len(want) == 0 {
		return "the program no longer runs on the node: the pod holds its last maps until it restarts"
	}
	return fmt.Sprintf("maps %s were made anew by an update (a new definition); the read-only mount keeps the old ones: restart the pod to mount the program's maps", strings.Join(moved, ", "))
}

// ProgramMounts are the pods that mount one program's maps: at most
// bpfleetv1.MaxMountsReported of them, by pod name, and how many do.
type ProgramMounts struct {
	List  []bpfleetv1.MapMount
	Count int32
}

// Mounts lists, by program UID, the pods that mount its maps: once per
// pass, for every entry of the report.
func (d *Driver) Mounts() map[string]ProgramMounts {
	d.mu.Lock()
	defer d.mu.Unlock()
	byUID := map[string][]bpfleetv1.MapMount{}
	for _, v := range d.vols {
		m := bpfleetv1.MapMount{Pod: v.Pod.String(), Access: v.Access, Stale: v.stale}
		for _, name := range v.Maps {
			m.Maps = append(m.Maps, bpfleetv1.MapName(name))
		}
		byUID[v.UID] = append(byUID[v.UID], m)
	}
	out := make(map[string]ProgramMounts, len(byUID))
	for uid, list := range byUID {
		slices.SortFunc(list, func(a, b bpfleetv1.MapMount) int { return strings.Compare(a.Pod, b.Pod) })
		out[uid] = ProgramMounts{List: list[:min(len(list), bpfleetv1.MaxMountsReported)], Count: int32(len(list))}
	}
	return out
}
