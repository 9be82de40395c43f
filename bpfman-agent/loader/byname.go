package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
)

// PinnedByName reports whether the object declares the map ms pinned by
// name (libbpf's LIBBPF_PIN_BY_NAME).
func PinnedByName(ms *ebpf.MapSpec) bool { return ms.Pinning == ebpf.PinByName }

// checkByName checks the maps of names that spec pins by name against
// the maps pinned in dir: one pinned there already is used in place of a
// new one, so it must match the object's definition. A mismatch is a
// MapIncompatible *Error saying how they differ.
func checkByName(spec *ebpf.CollectionSpec, names []string, dir string) error {
	for _, name := range names {
		ms := spec.Maps[name]
		if !PinnedByName(ms) {
			continue
		}
		if dir == "" {
			return Errorf(ReasonInvalidObject, "map %q is pinned by name (LIBBPF_PIN_BY_NAME), and there is no directory to pin it in", name)
		}
		if err := checkPinned(ms, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func checkPinned(ms *ebpf.MapSpec, path string) error {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("map %q pinned by name: %w", ms.Name, err)
	}
	defer m.Close()
	if err := ms.Compatible(m); err != nil {
		return &Error{
			Reason: ReasonMapIncompatible,
			Message: fmt.Sprintf("map %q is pinned by name (LIBBPF_PIN_BY_NAME), and the map pinned is %s; this object's is %s (%v): a map pinned by name keeps its definition as long as the program exists (delete and create the program again to change it)",
				ms.Name, shape(m.Type(), m.KeySize(), m.ValueSize(), m.MaxEntries(), m.Flags()),
				shape(ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags), err),
			Err: err,
		}
	}
	return nil
}
