package metrics

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cilium/ebpf"
)

// Bounds on the entries one batch lookup reads. Below minBatch a hash
// map's bucket may not fit (ENOSPC).
const (
	minBatch = 64
	maxBatch = 4096
)

// entry is a key and its value: one copy per possible CPU for a per-CPU
// map, else one.
type entry struct {
	key   []byte
	value [][]byte
}

// readEntries reads up to limit entries of m, in batches where the
// kernel can, else one by one.
func readEntries(m *ebpf.Map, limit int) ([]entry, error) {
	ncpu := 0 // not a per-CPU map
	if perCPU(m.Type()) {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return nil, err
		}
		ncpu = n
	}
	out, err := readBatch(m, limit, ncpu)
	if err != nil {
		// Not supported by this map type or kernel, or buckets larger
		// than a batch: iterate.
		return readEach(m, limit, ncpu)
	}
	return out, nil
}

func perCPU(t ebpf.MapType) bool {
	switch t {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return true
	}
	return false
}

func readBatch(m *ebpf.Map, limit, ncpu int) ([]entry, error) {
	n := min(max(limit, minBatch), maxBatch)
	keys := newFlat(int(m.KeySize()), n)
	values := newBatchValues(int(m.ValueSize()), n, ncpu)
	var out []entry
	cursor := new(ebpf.MapBatchCursor)
	for len(out) < limit {
		got, err := m.BatchLookup(cursor, keys.slice.Interface(), values.out(), nil)
		for i := range min(got, limit-len(out)) {
			out = append(out, entry{key: keys.copyAt(i), value: values.at(i)})
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read map: %w", err)
		}
	}
	return out, nil
}

func readEach(m *ebpf.Map, limit, ncpu int) ([]entry, error) {
	var out []entry
	key := make([]byte, m.KeySize())
	it := m.Iterate()
	for len(out) < limit {
		var value any = new([]byte)
		if ncpu > 0 {
			value = make([][]byte, ncpu)
		}
		if !it.Next(key, value) {
			break
		}
		out = append(out, entry{key: append([]byte(nil), key...), value: eachValue(value)})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read map: %w", err)
	}
	return out, nil
}

func eachValue(v any) [][]byte {
	if b, ok := v.(*[]byte); ok {
		return [][]byte{*b}
	}
	return v.([][]byte)
}

// flat is n fixed-size byte strings back to back, as the kernel's batch
// calls read them, backed by a Go slice of [size]byte arrays.
type flat struct {
	size  int
	slice reflect.Value // [][size]byte
	buf   []byte        // the same memory
}

func newFlat(size, n int) flat {
	typ := reflect.SliceOf(reflect.ArrayOf(size, reflect.TypeFor[byte]()))
	f := flat{size: size, slice: reflect.MakeSlice(typ, n, n)}
	if size > 0 {
		f.buf = unsafe.Slice((*byte)(f.slice.UnsafePointer()), n*size)
	}
	return f
}

func (f flat) copyAt(i int) []byte {
	return append([]byte(nil), f.buf[i*f.size:(i+1)*f.size]...)
}

// batchValues are the values of one batch: flat for a map with one value
// per key, one []byte per key and CPU for a per-CPU map.
type batchValues struct {
	flat   flat
	perCPU [][]byte
	ncpu   int
}

// ncpu is 0 for a map with one value per key.
func newBatchValues(size, n, ncpu int) batchValues {
	if ncpu > 0 {
		return batchValues{perCPU: make([][]byte, n*ncpu), ncpu: ncpu}
	}
	return batchValues{flat: newFlat(size, n)}
}

func (v batchValues) out() any {
	if v.perCPU != nil {
		return v.perCPU
	}
	return v.flat.slice.Interface()
}

func (v batchValues) at(i int) [][]byte {
	if v.perCPU != nil {
		return append([][]byte(nil), v.perCPU[i*v.ncpu:(i+1)*v.ncpu]...)
	}
	return [][]byte{v.flat.copyAt(i)}
}
