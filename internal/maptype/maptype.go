package maptype

import (
	"strings"

	"github.com/cilium/ebpf"
)

// Writable lists the map types a MapPolicy writes entries into, for
// messages.
const Writable = "hash, LRU hash, array, their per-CPU kinds and LPM trie"

// CanWrite reports whether a MapPolicy can write entries into a map of
// type t (update and delete keys from user space, and list them).
func CanWrite(t ebpf.MapType) bool {
	switch t {
	case ebpf.Hash, ebpf.LRUHash, ebpf.Array, ebpf.LPMTrie, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.PerCPUArray:
		return true
	}
	return false
}

// aliases are the names of map types, in bpfman's labels and the
// kernel's enum, that differ from cilium/ebpf's after normalize.
var aliases = map[string]ebpf.MapType{
	"progarray":     ebpf.ProgramArray,
	"lrupercpuhash": ebpf.LRUCPUHash,
}

// byName maps every type cilium/ebpf names, normalized, to the type.
var byName = func() map[string]ebpf.MapType {
	out := map[string]ebpf.MapType{}
	for t := ebpf.Hash; t <= ebpf.Arena; t++ {
		out[normalize(t.String())] = t
	}
	for name, t := range aliases {
		out[normalize(name)] = t
	}
	return out
}()

// Parse reads a map type as an image's labels name it; ok is false for a
// name it does not know.
func Parse(name string) (t ebpf.MapType, ok bool) {
	t, ok = byName[normalize(name)]
	return t, ok
}

// normalize lowercases name and drops the kernel's prefix and every '_'.
func normalize(name string) string {
	name = strings.ToLower(name)
	name = strings.TrimPrefix(name, "bpf_map_type_")
	return strings.ReplaceAll(name, "_", "")
}
