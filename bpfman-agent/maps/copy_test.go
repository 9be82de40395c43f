package maps

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
)

// TestCopy copies each kind of plain-data map into a new one, larger and
// smaller, and checks the entries and what a refusal says.
func TestCopy(t *testing.T) {
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.Array, ebpf.PerCPUArray, ebpf.LPMTrie} {
		t.Run(typ.String(), func(t *testing.T) {
			src := newMap(t, copySpec(typ, 100))
			ks := keysFor(typ, 60)
			for i, k := range ks {
				if err := src.Put(k, valueFor(typ, cpus, uint64(i+1))); err != nil {
					t.Fatal(err)
				}
			}
			dst := newMap(t, copySpec(typ, 200))
			if err := Copy(dst, src); err != nil {
				t.Fatalf("copy into a larger map: %v", err)
			}
			for i, k := range ks {
				if perCPU(typ) {
					vals := make([]uint64, cpus)
					if err := dst.Lookup(k, &vals); err != nil || vals[cpus-1] != uint64(i+1) {
						t.Fatalf("key %d: %v, %v", i, vals, err)
					}
					continue
				}
				var got uint64
				if err := dst.Lookup(k, &got); err != nil || got != uint64(i+1) {
					t.Fatalf("key %d: %v, %v", i, got, err)
				}
			}
			small := newMap(t, copySpec(typ, 50))
			err := Copy(small, src)
			var full *FullError
			if !errors.As(err, &full) || !errors.Is(err, ErrMapFull) {
				t.Fatalf("copy 60 entries into 50: %v, want a FullError", err)
			}
			if want := (FullError{Held: 60, Max: 50}); typ == ebpf.Array || typ == ebpf.PerCPUArray {
				if full.Beyond != 10 {
					t.Errorf("array: %+v, want 10 beyond", full)
				}
			} else if *full != want {
				t.Errorf("%+v, want %+v", *full, want)
			}
		})
	}
}

func copySpec(typ ebpf.MapType, n uint32) *ebpf.MapSpec {
	spec := &ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: n}
	if typ == ebpf.LPMTrie {
		spec.KeySize, spec.Flags = 8, 1 // BPF_F_NO_PREALLOC
	}
	return spec
}

func keysFor(typ ebpf.MapType, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		if typ == ebpf.LPMTrie {
			out[i] = []byte{32, 0, 0, 0, 10, 0, byte(i >> 8), byte(i)}
			continue
		}
		out[i] = []byte{byte(i), 0, 0, 0}
	}
	return out
}

func valueFor(typ ebpf.MapType, cpus int, v uint64) any {
	if perCPU(typ) {
		vals := make([]uint64, cpus)
		vals[cpus-1] = v
		return vals
	}
	return v
}
