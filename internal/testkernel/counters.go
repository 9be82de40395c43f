package testkernel

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// OpenFiles makes n openat calls from this process, the events the example
// tracepoint counter counts.
func OpenFiles(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		f, err := os.Open("/proc/self/stat")
		if err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
}

// MapValue reads the u64 value under key in the map with the kernel ID
// mapID; an absent key reads as 0.
func MapValue(tb testing.TB, mapID uint32, key any) uint64 {
	tb.Helper()
	m, err := ebpf.NewMapFromID(ebpf.MapID(mapID))
	if err != nil {
		tb.Fatalf("map %d: %v", mapID, err)
	}
	defer m.Close()
	var v uint64
	if err := m.Lookup(key, &v); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		tb.Fatalf("lookup in map %d: %v", mapID, err)
	}
	return v
}

// MapSpecOf returns the spec of map name in the BPF object obj (e.g.
// bpf.XDPFilter's "blocklist"), with its BTF key and value types.
func MapSpecOf(tb testing.TB, obj []byte, name string) *ebpf.MapSpec {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		tb.Fatal(err)
	}
	ms := spec.Maps[name]
	if ms == nil {
		tb.Fatalf("the object has no map %q", name)
	}
	return ms
}

// NewMap creates a map for a test, closed when the test ends.
func NewMap(tb testing.TB, spec *ebpf.MapSpec) *ebpf.Map {
	tb.Helper()
	m, err := ebpf.NewMap(spec)
	if err != nil {
		tb.Fatalf("create map: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// Programs lists the IDs of the programs in the kernel that match keeps.
func Programs(tb testing.TB, keep func(ebpf.ProgramID) bool) []uint32 {
	tb.Helper()
	var out []uint32
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		id = next
		if keep(id) {
			out = append(out, uint32(id))
		}
	}
}
