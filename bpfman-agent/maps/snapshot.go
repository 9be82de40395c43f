package maps

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// snapshot is the previous state of the keys an atomic write touches.
type snapshot struct {
	keys, values rows
	cpus         int    // values holds cpus rows per key: see valuesPerKey
	had          []bool // whether each key was in the map
	planned      int    // keys[:planned] are the entries, the rest stale keys
}

// takeSnapshot reads the keys planned and stale of m, whose keys have cpus
// values each.
func takeSnapshot(m *ebpf.Map, cpus int, planned, stale rows) (*snapshot, error) {
	n := planned.len() + stale.len()
	s := &snapshot{keys: newRows(planned.size, n), values: newRows(int(m.ValueSize()), n*cpus), cpus: cpus,
		had: make([]bool, n), planned: planned.len()}
	copy(s.keys.buf, planned.buf)
	copy(s.keys.buf[len(planned.buf):], stale.buf)
	for i := range n {
		err := m.Lookup(s.keys.at(i), perCPUValue(s.values, i, cpus))
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("read key %s before writing: %w", Decode(s.keys.at(i), nil), err)
		}
		s.had[i] = err == nil
	}
	return s, nil
}

// overflow lists the planned entries whose keys are new and do not fit
// in room free slots.
func (s *snapshot) overflow(index []int, room int) []EntryError {
	var full []EntryError
	for i := range s.planned {
		if s.had[i] {
			continue
		}
		if room <= 0 {
			full = append(full, EntryError{Index: index[i],
				Err: fmt.Errorf("%w: no room for a new key, and the write is atomic", ErrMapFull)})
		}
		room--
	}
	return full
}

// restore puts back every key as it was.
func (s *snapshot) restore(m *ebpf.Map) error {
	var errs []error
	for i := range s.had {
		var err error
		if s.had[i] {
			err = m.Update(s.keys.at(i), perCPUValue(s.values, i, s.cpus), ebpf.UpdateAny)
		} else if err = m.Delete(s.keys.at(i)); errors.Is(err, ebpf.ErrKeyNotExist) {
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("key %s: %w", Decode(s.keys.at(i), nil), err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("roll back: %w", errors.Join(errs...))
	}
	return nil
}
