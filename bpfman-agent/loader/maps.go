package loader

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
)

// SetMaxEntries sets the max_entries of the programs' maps named in
// sizes; a size of 0 keeps the object's. Every name must be a map one of
// programs uses (see ConfigurableMap).
func SetMaxEntries(spec *ebpf.CollectionSpec, programs []string, sizes map[string]uint32) error {
	for _, name := range slices.Sorted(maps.Keys(sizes)) {
		ms, err := ConfigurableMap(spec, programs, name)
		if err != nil {
			return err
		}
		if sizes[name] != 0 {
			ms.MaxEntries = sizes[name]
		}
	}
	return nil
}

// ConfigurableMap returns the spec of the map name that one of programs
// uses. It refuses a map none of them uses, the data sections (.rodata,
// .bss...), which hold its global variables: their size is the object's
// and no other program may share them, and the maps the object pins by
// name, which the program's revisions share as they are (see
// LoadSpecWith).
func ConfigurableMap(spec *ebpf.CollectionSpec, programs []string, name string) (*ebpf.MapSpec, error) {
	used := MapsOf(spec, programs...)
	program := quoted(programs)
	if !slices.Contains(used, name) {
		return nil, Errorf(ReasonMapIncompatible, "program %s uses no map %q (uses: %s)",
			program, name, strings.Join(used, ", "))
	}
	if strings.HasPrefix(name, ".") {
		return nil, Errorf(ReasonMapIncompatible, "map %q holds the global variables of program %s: it cannot be resized or shared",
			name, program)
	}
	if PinnedByName(spec.Maps[name]) {
		return nil, Errorf(ReasonMapIncompatible, "map %q is pinned by name by the object (LIBBPF_PIN_BY_NAME): it keeps the object's definition and is the program's own, shared by its revisions; a MapPolicy cannot resize or share it (remove maxEntries and shared for it from the policy)",
			name)
	}
	return spec.Maps[name], nil
}

// CheckCompatible reports whether m, a shared map that another program
// created, can stand in for ms (cilium/ebpf's MapSpec.Compatible: same
// type, key and value sizes, max_entries and flags). shared names m in
// the error, a MapIncompatible *Error naming both maps' shapes.
func CheckCompatible(ms *ebpf.MapSpec, m *ebpf.Map, shared string) error {
	err := ms.Compatible(m)
	if err == nil {
		return nil
	}
	return &Error{
		Reason: ReasonMapIncompatible,
		Message: fmt.Sprintf("map %q: the shared map %q, created by another program, is %s; this program's map is %s (%v); the programs sharing a map must declare it alike",
			ms.Name, shared, shape(m.Type(), m.KeySize(), m.ValueSize(), m.MaxEntries(), m.Flags()),
			shape(ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags), err),
		Err: err,
	}
}

func shape(typ ebpf.MapType, key, value, maxEntries, flags uint32) string {
	s := fmt.Sprintf("%s, key %d bytes, value %d bytes, max_entries %d", typ, key, value, maxEntries)
	if flags != 0 {
		s += fmt.Sprintf(", flags %#x", flags)
	}
	return s
}
