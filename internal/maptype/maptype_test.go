package maptype

import (
	"testing"

	"github.com/cilium/ebpf"
)

// Every way an image names a map type reads as the one type, whether
// `bpfleet image build`, bpfman or a hand-written label wrote it.
func TestParse(t *testing.T) {
	for name, want := range map[string]ebpf.MapType{
		"hash": ebpf.Hash, "lruhash": ebpf.LRUHash, "percpuarray": ebpf.PerCPUArray, "lrucpuhash": ebpf.LRUCPUHash,
		"lpmtrie": ebpf.LPMTrie, "ringbuf": ebpf.RingBuf, "perfeventarray": ebpf.PerfEventArray,
		"programarray": ebpf.ProgramArray, "arrayofmaps": ebpf.ArrayOfMaps,
		"per_cpu_array": ebpf.PerCPUArray, "ring_buf": ebpf.RingBuf, "prog_array": ebpf.ProgramArray,
		"lru_per_cpu_hash": ebpf.LRUCPUHash, "perf_event_array": ebpf.PerfEventArray, "hash_of_maps": ebpf.HashOfMaps,
		"BPF_MAP_TYPE_RINGBUF": ebpf.RingBuf, "BPF_MAP_TYPE_LPM_TRIE": ebpf.LPMTrie,
	} {
		if got, ok := Parse(name); !ok || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "unspecifiedmap", "blob", "windowshash"} {
		if got, ok := Parse(name); ok {
			t.Errorf("Parse(%q) = %v, want unknown", name, got)
		}
	}
}

func TestCanWrite(t *testing.T) {
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.Array, ebpf.LPMTrie, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.PerCPUArray} {
		if !CanWrite(typ) {
			t.Errorf("CanWrite(%v) = false", typ)
		}
	}
	for _, typ := range []ebpf.MapType{ebpf.RingBuf, ebpf.PerfEventArray, ebpf.ProgramArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps, ebpf.StackTrace, ebpf.Queue} {
		if CanWrite(typ) {
			t.Errorf("CanWrite(%v) = true", typ)
		}
	}
}
