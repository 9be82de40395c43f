package maps

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// FullError is a Copy refused because the source's entries do not fit in
// the destination's max_entries. It matches ErrMapFull with errors.Is.
type FullError struct {
	// Held is how many entries the source holds (a hash-like map), or
	// Beyond how many non-zero values it holds at indexes the destination
	// lacks (an array).
	Held, Beyond int
	Max          uint32 // the destination's max_entries
}

func (e *FullError) Error() string {
	if e.Beyond > 0 {
		return fmt.Sprintf("%d non-zero entries at indexes %d and above, max_entries is %d", e.Beyond, e.Max, e.Max)
	}
	return fmt.Sprintf("%d entries held, max_entries is %d", e.Held, e.Max)
}

// Unwrap makes errors.Is(err, ErrMapFull) true.
func (e *FullError) Unwrap() error { return ErrMapFull }

// Copyable reports whether Copy can copy src into dst: maps of plain data
// (hash, array, LRU hash, LPM trie, and their per-CPU kinds) of the same
// type, key size and value size. Their max_entries may differ.
func Copyable(dst, src *ebpf.Map) bool {
	switch src.Type() {
	case ebpf.Hash, ebpf.Array, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.LPMTrie:
	default:
		return false
	}
	return dst.Type() == src.Type() && dst.KeySize() == src.KeySize() && dst.ValueSize() == src.ValueSize()
}

// Copy writes every entry of src into dst, a new map that Copyable
// accepts: per-CPU values CPU by CPU; for an array, the non-zero values
// at the indexes dst has. It reads and writes in batches where the kernel
// has them, in bounded memory. If the entries do not fit (more than
// dst's max_entries, or non-zero array values beyond it) it returns a
// *FullError, having written part of them: dst is then to be discarded.
// Entries src gains or loses meanwhile may or may not be copied.
func Copy(dst, src *ebpf.Map) error {
	if !Copyable(dst, src) {
		return fmt.Errorf("copy a %s map into a %s map of other key or value size: not supported", src.Type(), dst.Type())
	}
	s, err := newScanner(src, false)
	if err != nil {
		return err
	}
	c := &copier{dst: dst, s: s, array: src.Type() == ebpf.Array || src.Type() == ebpf.PerCPUArray}
	if err := s.each(c.chunk); err != nil {
		return err
	}
	return c.result()
}

// copier writes the chunks a scanner reads into dst.
type copier struct {
	dst          *ebpf.Map
	s            *scanner
	array        bool
	each         bool // dst has no batch update: one call per entry
	full         bool // dst refused an entry for want of room
	held, beyond int
}

func (c *copier) chunk(n int) error {
	c.held += n
	if c.array {
		n = c.inRange(n)
	}
	if c.full || n == 0 {
		return nil
	}
	return c.write(n)
}

// inRange keeps, at the front of the chunk, the array entries with a
// non-zero value at an index dst has, counts those beyond, and returns
// how many it kept.
func (c *copier) inRange(n int) int {
	kept := 0
	for i := range n {
		switch {
		case c.s.zero(i):
		case binary.NativeEndian.Uint32(c.s.keys.at(i)) >= c.dst.MaxEntries():
			c.beyond++
		default:
			c.s.move(kept, i)
			kept++
		}
	}
	return kept
}

func (c *copier) write(n int) error {
	if !c.each {
		keys, values := c.s.keys.truncate(n).from(0), c.s.values.truncate(n*c.s.cpus).from(0)
		_, err := c.dst.BatchUpdate(keys, values, nil)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return c.refused(err)
		}
		c.each = true
	}
	for i := range n {
		if err := c.dst.Update(c.s.keys.at(i), c.s.value(i), ebpf.UpdateAny); err != nil {
			return c.refused(err)
		}
	}
	return nil
}

// refused notes a full dst; other errors are the copy's.
func (c *copier) refused(err error) error {
	if errors.Is(err, unix.E2BIG) || errors.Is(err, unix.ENOSPC) {
		c.full = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("write map: %w", err)
	}
	return nil
}

func (c *copier) result() error {
	max := c.dst.MaxEntries()
	switch {
	case c.array && c.beyond > 0:
		return &FullError{Beyond: c.beyond, Max: max}
	case !c.array && (c.full || c.held > int(max)):
		return &FullError{Held: c.held, Max: max}
	}
	return nil
}
