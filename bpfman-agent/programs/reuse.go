package programs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
)

// reuse adds to r the running revision's maps that p's new revision can
// use as they are, by name, so that they keep their kernel ID across the
// update: a reader holding one follows the program, and nothing the
// running revision writes before the swap is lost. A map qualifies if
// one of p's programs uses it, reusable accepts its spec, r does not
// replace it already (a shared map), and the running revision's map of
// that name is its own (see openOwn) and fits the spec as configured
// (MapSpec.Compatible: a new maxEntries makes a new map, which carry
// fills). The caller closes r.
func (m *Manager) reuse(p Program, spec *ebpf.CollectionSpec, r *replacements) error {
	dir, ok, err := m.previous(p)
	if err != nil || !ok {
		return err
	}
	outside, err := m.pinnedOutside(p.UID)
	if err != nil {
		return fmt.Errorf("reuse maps: %w", err)
	}
	for _, name := range loader.MapsOf(spec, p.names()...) {
		if r.replace[name] != nil || !reusable(name, spec.Maps[name]) {
			continue
		}
		mp, err := openOwn(dir.Map(name), spec.Maps[name], outside)
		if err != nil {
			return fmt.Errorf("reuse map %s of the running revision: %w", name, err)
		}
		if mp != nil {
			r.replace[name] = mp
		}
	}
	return nil
}

// reusable says whether the map name of spec ms may be the running
// revision's: not a data section (the new revision's globals are its
// own), not a map the object pins by name (the loader uses that pin), and
// of a type whose contents are data a reader outside the program reads:
// the plain data bpfmaps.Copyable copies, and the event buffers. Never a
// prog array, a map of maps, struct_ops or cgroup storage: their contents
// belong to one revision. Nor a map whose values hold kernel state
// (holdsKernelState): a timer kept would call the old revision's code.
func reusable(name string, ms *ebpf.MapSpec) bool {
	if strings.HasPrefix(name, ".") || loader.PinnedByName(ms) || holdsKernelState(ms.Value, 0) {
		return false
	}
	switch ms.Type {
	case ebpf.Hash, ebpf.Array, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.LPMTrie,
		ebpf.RingBuf, ebpf.PerfEventArray:
		return true
	}
	return false
}

// openOwn opens the map pinned at path, a running revision's, if it is
// that revision's own (its ID not in outside) and ms.Compatible agrees;
// else, or if nothing is pinned there, it returns nil and no error. The
// caller closes the map.
func openOwn(path string, ms *ebpf.MapSpec, outside map[uint32]bool) (*ebpf.Map, error) {
	mp, err := ebpf.LoadPinnedMap(path, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, err := mapID(mp)
	if err != nil {
		mp.Close()
		return nil, err
	}
	if outside[id] || ms.Compatible(mp) != nil {
		mp.Close()
		return nil, nil
	}
	return mp, nil
}

// pinnedOutside is the set of the IDs of the maps pinned outside uid's
// revisions: the shared maps and uid's maps pinned by name. A revision
// that uses one of them under a name it no longer shares or pins by name
// gets a map of its own (which carry fills), not that map.
func (m *Manager) pinnedOutside(uid string) (map[uint32]bool, error) {
	shared, err := m.layout.SharedNames()
	if err != nil {
		return nil, err
	}
	byName, err := m.layout.ByNameMaps(uid)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(shared)+len(byName))
	for _, name := range shared {
		paths = append(paths, m.layout.Shared(name))
	}
	for _, name := range byName {
		paths = append(paths, filepath.Join(m.layout.ByName(uid), name))
	}
	return pinnedIDs(paths)
}

// pinnedIDs is the set of the IDs of the objects pinned at paths.
func pinnedIDs(paths []string) (map[uint32]bool, error) {
	ids := make(map[uint32]bool, len(paths))
	for _, path := range paths {
		id, err := pinnedID(path)
		if err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, nil
}

// kernelStateTypes are the BTF types of map value fields the kernel
// manages itself (a copy from user space leaves them zero).
var kernelStateTypes = map[string]bool{
	"bpf_timer": true, "bpf_wq": true, "bpf_spin_lock": true, "bpf_res_spin_lock": true, "bpf_task_work": true,
	"bpf_list_head": true, "bpf_list_node": true, "bpf_rb_root": true, "bpf_rb_node": true, "bpf_refcount": true,
}

// holdsKernelState says whether a map value of type typ holds such a
// field, or a kptr (a pointer tagged __kptr), at any depth (bounded: BTF
// may nest deeply; too deep counts as holding state).
func holdsKernelState(typ btf.Type, depth int) bool {
	if depth > 16 {
		return true
	}
	switch t := typ.(type) {
	case *btf.Struct:
		return kernelStateTypes[t.Name] || membersHoldState(t.Members, depth)
	case *btf.Union:
		return membersHoldState(t.Members, depth)
	case *btf.Array:
		return holdsKernelState(t.Type, depth+1)
	case *btf.Pointer:
		tag, ok := t.Target.(*btf.TypeTag)
		return ok && strings.Contains(tag.Value, "kptr")
	case *btf.Typedef:
		return holdsKernelState(t.Type, depth+1)
	case *btf.Const:
		return holdsKernelState(t.Type, depth+1)
	case *btf.Volatile:
		return holdsKernelState(t.Type, depth+1)
	}
	return false
}

func membersHoldState(members []btf.Member, depth int) bool {
	for _, m := range members {
		if holdsKernelState(m.Type, depth+1) {
			return true
		}
	}
	return false
}
