package maps

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// scanBytes bounds the buffers a scanner reads a map into: reading a map
// of any size takes no more.
const scanBytes = 1 << 20

// scanner reads a map chunk by chunk into buffers it reuses: in batches
// where the kernel has them for the map's type, else one key at a time.
type scanner struct {
	m *ebpf.Map
	// cpus is how many values a key has: the possible CPUs for a per-CPU
	// map, else 1. values holds cpus rows per key.
	cpus         int
	keys, values rows
	// keysOnly skips the values where it can (reading one key at a time).
	keysOnly bool
}

func newScanner(m *ebpf.Map, keysOnly bool) (*scanner, error) {
	cpus, err := valuesPerKey(m)
	if err != nil {
		return nil, err
	}
	ks, vs := int(m.KeySize()), int(m.ValueSize())
	n := max(16, min(chunk, scanBytes/max(1, ks+vs*cpus)))
	return &scanner{m: m, cpus: cpus, keys: newRows(ks, n), values: newRows(vs, n*cpus), keysOnly: keysOnly}, nil
}

// each calls fn with each chunk read: the first n rows of s.keys, and
// their values (see value), unless keysOnly and read one at a time.
func (s *scanner) each(fn func(n int) error) error {
	err := s.batches(fn)
	if errors.Is(err, errNoBatch) {
		return s.iterate(fn)
	}
	return err
}

var errNoBatch = errors.New("no batch lookup")

func (s *scanner) batches(fn func(n int) error) error {
	cursor := new(ebpf.MapBatchCursor)
	for first := true; ; first = false {
		n, err := s.m.BatchLookup(cursor, s.keys.from(0), s.values.from(0), nil)
		done := errors.Is(err, ebpf.ErrKeyNotExist)
		switch {
		case err == nil || done:
		case first && (errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.ENOSPC)):
			// No batch ops for this type, or a hash bucket larger than
			// a chunk.
			return errNoBatch
		default:
			return fmt.Errorf("read map: %w", err)
		}
		if n > 0 {
			if err := fn(n); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// iterate reads one key at a time (and its value, unless keysOnly). A
// hash map that changes meanwhile can restart the walk: it gives up after
// max_entries keys more than the map can hold.
func (s *scanner) iterate(fn func(n int) error) error {
	last := make([]byte, s.keys.size)
	var prev any // nil asks for the first key
	n := 0
	for seen := 0; ; seen++ {
		if seen > 2*int(s.m.MaxEntries()) {
			return fmt.Errorf("read map: %w", ebpf.ErrIterationAborted)
		}
		err := s.m.NextKey(prev, s.keys.at(n))
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("read map: %w", err)
		}
		copy(last, s.keys.at(n))
		prev = last
		if !s.keysOnly {
			err := s.m.Lookup(last, s.value(n))
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("read map: %w", err)
			}
		}
		if n++; n == s.keys.len() {
			if err := fn(n); err != nil {
				return err
			}
			n = 0
		}
	}
	if n > 0 {
		return fn(n)
	}
	return nil
}

// value is where the value of key i goes, as Lookup and Update take it:
// one value per CPU for a per-CPU map.
func (s *scanner) value(i int) any { return perCPUValue(s.values, i, s.cpus) }

// zero reports whether key i's values are all zero.
func (s *scanner) zero(i int) bool {
	return allZero(s.values.buf[i*s.cpus*s.values.size : (i+1)*s.cpus*s.values.size])
}

// move copies key i and its values to row j.
func (s *scanner) move(j, i int) {
	copy(s.keys.at(j), s.keys.at(i))
	vs := s.cpus * s.values.size
	copy(s.values.buf[j*vs:(j+1)*vs], s.values.buf[i*vs:(i+1)*vs])
}
