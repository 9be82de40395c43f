package maps

import (
	"github.com/cilium/ebpf"
)

// perCPU says whether a key of a map of type t has a value per CPU.
func perCPU(t ebpf.MapType) bool {
	switch t {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return true
	}
	return false
}

// valuesPerKey is how many values a key of m has: the possible CPUs for
// a per-CPU map, else 1.
func valuesPerKey(m *ebpf.Map) (int, error) {
	if !perCPU(m.Type()) {
		return 1, nil
	}
	return ebpf.PossibleCPU()
}

// spreadBytes bounds the per-CPU values one batch write lays out (the
// kernel's layout, copied by cilium/ebpf): writing a long list into a map
// on a machine of many CPUs takes no more.
const spreadBytes = 1 << 20

// spreader gives each value of a batch to every CPU, for the kernel's
// per-CPU calls: cpus slices of the same bytes per value, never copies.
type spreader struct {
	cpus int
	out  [][]byte // reused from call to call
}

// batch is how many keys one batch write of values of size bytes takes.
func (s *spreader) batch(size, total int) int {
	if s.cpus <= 1 {
		return total
	}
	return max(1, spreadBytes/(s.cpus*((size+7)/8*8)))
}

// values are values.at(lo) to values.at(hi-1) as a batch write takes them:
// the rows themselves, or cpus slices of each for a per-CPU map.
func (s *spreader) values(values rows, lo, hi int) any {
	if s.cpus <= 1 {
		return values.span(lo, hi)
	}
	s.out = s.out[:0]
	for i := lo; i < hi; i++ {
		for range s.cpus {
			s.out = append(s.out, values.at(i))
		}
	}
	return s.out
}

// value is values.at(i) as Update takes it: the row, or a slice of cpus
// copies for a per-CPU map.
func (s *spreader) value(values rows, i int) any {
	if s.cpus <= 1 {
		return values.at(i)
	}
	return s.values(values, i, i+1)
}

// perCPUValue is where key i's values are in values, cpus rows per key,
// as Lookup and Update take them: a row, or a slice of cpus rows for a
// per-CPU map.
func perCPUValue(values rows, i, cpus int) any {
	if cpus == 1 {
		return values.at(i)
	}
	return values.slice.Slice(i*cpus, (i+1)*cpus).Interface()
}
