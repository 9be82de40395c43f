package programs

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Map opens the map name (its name in the ELF) of uid's running revision,
// from its pins: for a shared map, the shared map. The caller closes it.
// An error wraps fs.ErrNotExist if uid or the map is not pinned.
func (m *Manager) Map(uid, name string) (*ebpf.Map, error) {
	if err := pins.ValidateUID(uid); err != nil {
		return nil, err
	}
	if err := pins.ValidateMapName(name); err != nil {
		return nil, err
	}
	dir, err := m.running(uid)
	if err != nil {
		return nil, err
	}
	mp, err := ebpf.LoadPinnedMap(dir.Map(name), nil)
	if err != nil {
		return nil, fmt.Errorf("program %s: map %s: %w", uid, name, err)
	}
	return mp, nil
}

// MapIDs lists the maps of uid's running revision (by ELF name, shared
// maps included) with their kernel IDs. An error wraps fs.ErrNotExist if
// uid is not pinned.
func (m *Manager) MapIDs(uid string) (map[string]uint32, error) {
	if err := pins.ValidateUID(uid); err != nil {
		return nil, err
	}
	dir, err := m.running(uid)
	if err != nil {
		return nil, err
	}
	return pinnedMapIDs(dir)
}

// SharedMap opens the shared map named shared. The caller closes it. An
// error wraps fs.ErrNotExist if no program created it (or the last one
// using it is gone).
func (m *Manager) SharedMap(shared string) (*ebpf.Map, error) {
	if err := pins.ValidateSharedName(shared); err != nil {
		return nil, err
	}
	mp, err := ebpf.LoadPinnedMap(m.layout.Shared(shared), nil)
	return mp, sharedError(shared, err)
}

// running is the pin directory of uid's running revision: the one with a
// live link (there are several revisions only after a crash mid-swap),
// else the last one.
func (m *Manager) running(uid string) (pins.Dir, error) {
	revs, err := m.layout.Revisions(uid)
	if err != nil {
		return "", err
	}
	if len(revs) == 0 {
		return "", fmt.Errorf("program %s: no revision pinned: %w", uid, fs.ErrNotExist)
	}
	return m.pick(uid, revs), nil
}

// pick is the running one of uid's revisions revs (not empty): the one
// with a live link, else the last.
func (m *Manager) pick(uid string, revs []string) pins.Dir {
	for _, rev := range revs[:len(revs)-1] {
		e := pins.Entry{UID: uid, Revision: rev, Dir: m.layout.Revision(uid, rev)}
		if ld, err := describe(e); err == nil && ld.Live() {
			return e.Dir
		}
	}
	return m.layout.Revision(uid, revs[len(revs)-1])
}

// pruneShared unpins every shared map that no published revision pins
// (a revision pins each map it uses, shared ones included, under maps/).
// When in doubt, a map whose ID or users cannot be read, it keeps it.
func (m *Manager) pruneShared() error {
	names, err := m.layout.SharedNames()
	if err != nil || len(names) == 0 {
		return err
	}
	used, err := m.usedMapIDs()
	if err != nil {
		return fmt.Errorf("prune shared maps: %w", err)
	}
	var errs []error
	for _, name := range names {
		id, err := pinnedMapID(m.layout.Shared(name))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("prune shared map %s: %w", name, err))
		case !used[id]:
			errs = append(errs, m.layout.RemoveShared(name))
		}
	}
	return errors.Join(errs...)
}

// usedMapIDs is the set of the IDs of the maps every published revision
// pins.
func (m *Manager) usedMapIDs() (map[uint32]bool, error) {
	entries, err := m.layout.List()
	if err != nil {
		return nil, err
	}
	used := map[uint32]bool{}
	for _, e := range entries {
		ids, err := pinnedMapIDs(e.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", e.UID, e.Revision, err)
		}
		for _, id := range ids {
			used[id] = true
		}
	}
	return used, nil
}

// sharedIDs maps the ID of each shared map that loads to its name.
func (m *Manager) sharedIDs() map[uint32]string {
	names, _ := m.layout.SharedNames()
	out := make(map[uint32]string, len(names))
	for _, name := range names {
		if id, err := pinnedMapID(m.layout.Shared(name)); err == nil {
			out[id] = name
		}
	}
	return out
}

// sharedOf picks, from a program's maps by ID, the shared ones.
func sharedOf(maps map[string]uint32, shared map[uint32]string) map[string]string {
	var out map[string]string
	for name, id := range maps {
		if s, ok := shared[id]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = s
		}
	}
	return out
}

func pinnedMapID(path string) (uint32, error) {
	mp, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		return 0, err
	}
	defer mp.Close()
	return mapID(mp)
}
