package programs

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	bpfmaps "github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// carry fills each new map of p's new revision with the entries of the
// running revision's map of the same name, before any link moves to it,
// so that a new revision never runs with empty maps. A map whose
// definition is unchanged is the running revision's map already (see
// reuse: one kernel map, nothing to copy), as is a shared map or one the
// object pins by name: carry copies only into the maps whose definition
// changed (e.g. a new maxEntries), if bpfmaps.Copyable accepts them
// (plain data); never into a data section (.rodata, .data, .bss,
// .kconfig: the new revision's globals are its own). If the entries do
// not fit (a smaller maxEntries), the update is held: an *Error with
// ReasonMapFull, and the running revision keeps running.
func (m *Manager) carry(p Program, objs *loader.Collection) error {
	dir, ok, err := m.previous(p)
	if err != nil || !ok {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(objs.Maps)) {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if err := carryMap(name, objs.Maps[name], dir); err != nil {
			return err
		}
	}
	return nil
}

// previous is the pin directory of the revision p replaces, if any.
func (m *Manager) previous(p Program) (pins.Dir, bool, error) {
	revs, err := m.layout.Revisions(p.UID)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	revs = slices.DeleteFunc(revs, func(r string) bool { return r == p.Revision.String() })
	if len(revs) == 0 {
		return "", false, nil
	}
	return m.pick(p.UID, revs), true, nil
}

// carryMap copies the map name of the revision in dir into dst.
func carryMap(name string, dst *ebpf.Map, dir pins.Dir) error {
	src, err := ebpf.LoadPinnedMap(dir.Map(name), nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the running revision has no such map
	}
	if err != nil {
		return fmt.Errorf("open map %s of the running revision: %w", name, err)
	}
	defer src.Close()
	if !bpfmaps.Copyable(dst, src) || sameMap(dst, src) {
		return nil
	}
	err = bpfmaps.Copy(dst, src)
	var full *bpfmaps.FullError
	if errors.As(err, &full) {
		return loader.Errorf(loader.ReasonMapFull, "update held: map %q %s; revision %s keeps running",
			name, fullMessage(full), filepath.Base(string(dir)))
	}
	if err != nil {
		return fmt.Errorf("carry the entries of map %s over: %w", name, err)
	}
	return nil
}

func fullMessage(e *bpfmaps.FullError) string {
	if e.Beyond > 0 {
		return fmt.Sprintf("holds %s non-zero entries at indexes %s and above, the new revision's maxEntries is %s",
			thousands(e.Beyond), thousands(int(e.Max)), thousands(int(e.Max)))
	}
	return fmt.Sprintf("holds %s entries, the new revision's maxEntries is %s", thousands(e.Held), thousands(int(e.Max)))
}

// sameMap says whether a and b are one kernel map (a map reused, shared
// or pinned by name).
func sameMap(a, b *ebpf.Map) bool {
	ida, erra := mapID(a)
	idb, errb := mapID(b)
	return erra == nil && errb == nil && ida == idb
}

// thousands writes n with a comma every three digits: 1,200.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
