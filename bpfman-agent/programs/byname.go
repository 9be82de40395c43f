package programs

import (
	"errors"
	"path/filepath"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// initByName creates the directory of p's maps pinned by name if the
// object pins any of the maps its programs use by name.
func (m *Manager) initByName(p Program, spec *ebpf.CollectionSpec) error {
	for _, name := range loader.MapsOf(spec, p.names()...) {
		if loader.PinnedByName(spec.Maps[name]) {
			return m.layout.InitByName(p.UID)
		}
	}
	return nil
}

// unpinByName unpins the maps pinned by name for uid that an install
// that failed with err made (those not in before), and returns err with
// any failure to do so.
func (m *Manager) unpinByName(err error, uid string, before []string) error {
	now, lerr := m.layout.ByNameMaps(uid)
	errs := []error{err, lerr}
	for _, name := range now {
		if !slices.Contains(before, name) {
			errs = append(errs, m.layout.RemoveByName(uid, name))
		}
	}
	return errors.Join(errs...)
}

// pruneByName unpins the maps pinned by name for uid that its revision
// in dir does not use (a new object dropped them, or pins them no more):
// a later revision declaring them again starts with empty maps, as the
// first one did. When in doubt, a map whose ID cannot be read, it keeps
// it.
func (m *Manager) pruneByName(uid string, dir pins.Dir) error {
	names, err := m.layout.ByNameMaps(uid)
	if err != nil || len(names) == 0 {
		return err
	}
	var errs []error
	for _, name := range names {
		id, err := pinnedMapID(filepath.Join(m.layout.ByName(uid), name))
		if err != nil {
			continue
		}
		if used, err := pinnedMapID(dir.Map(name)); err != nil || used != id {
			errs = append(errs, m.layout.RemoveByName(uid, name))
		}
	}
	return errors.Join(errs...)
}

// pinAlso pins mp at path. A map pinned already (pinned by name) keeps
// that pin: cilium/ebpf's Pin would move it.
func pinAlso(mp *ebpf.Map, path string) error {
	if !mp.IsPinned() {
		return mp.Pin(path)
	}
	c, err := mp.Clone()
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Pin(path)
}
