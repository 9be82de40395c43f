package metrics

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestReadPaths: batch and one-by-one reads agree, stop at the limit,
// and give one value per CPU for a per-CPU map.
func TestReadPaths(t *testing.T) {
	testkernel.Require(t)
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.PerCPUHash, ebpf.Array, ebpf.PerCPUArray} {
		m := newMap(t, &ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 300})
		for i := range uint32(300) {
			v := binary.NativeEndian.AppendUint32(nil, i)
			var value any = v
			if perCPU(typ) {
				all := make([][]byte, ncpu)
				for c := range all {
					all[c] = v
				}
				value = all
			}
			if err := m.Put(binary.NativeEndian.AppendUint32(nil, i), value); err != nil {
				t.Fatalf("%v: put: %v", typ, err)
			}
		}
		cpus, each := 1, 0 // values per entry; readEach's ncpu
		if perCPU(typ) {
			cpus, each = ncpu, ncpu
		}
		for _, read := range []func(*ebpf.Map, int) ([]entry, error){
			readEntries,
			func(m *ebpf.Map, limit int) ([]entry, error) { return readEach(m, limit, each) },
		} {
			for _, limit := range []int{1, 100, 1000} {
				got, err := read(m, limit)
				if err != nil {
					t.Fatalf("%v: read %d: %v", typ, limit, err)
				}
				if len(got) != min(limit, 300) {
					t.Fatalf("%v: read %d: %d entries", typ, limit, len(got))
				}
				for _, e := range got {
					if len(e.value) != cpus || string(e.value[cpus-1]) != string(e.key) {
						t.Fatalf("%v: entry %x → %x", typ, e.key, e.value)
					}
				}
			}
		}
	}
}
