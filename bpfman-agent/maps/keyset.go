package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// keySet is a set of rows by their bytes: an open-addressing hash table
// of row indices. Apply checks every key against one (a key listed twice,
// a key of the map no longer listed); unlike a map of strings, it
// allocates once, and neither copies nor converts a key. Each slot also
// holds the high half of its row's hash, so that a probe past another
// key rarely reads that key's row. The table may be split in two parts,
// a key's part chosen by its hash, so that two goroutines fill it at
// once (see addAll); each part has more slots than the set has rows, so
// that a probe always ends.
type keySet struct {
	rows  rows
	slots []uint64 // hash>>32<<32 | a row's index + 1; 0 is an empty slot
	parts int      // 1 or 2
	seed  maphash.Seed
	mix   uint64 // a random multiplier, per set, for keys of 8 bytes or less
}

// newKeySet makes an empty set of rows of r, room for n of them, in 1 or
// 2 parts. Its table comes from earlier sets: release gives it back.
func newKeySet(r rows, n, parts int) *keySet {
	size := 1 << bits.Len(uint(2*n)) // at most half full, a part more than n
	seed := maphash.MakeSeed()
	return &keySet{rows: r, slots: slotTable(size), parts: parts, seed: seed, mix: maphash.Comparable(seed, 0)}
}

// setParts is how many parts a set of n rows is split in.
func setParts(n int) int {
	if n >= 2*perWorker && runtime.GOMAXPROCS(0) > 1 {
		return 2
	}
	return 1
}

// tables holds the tables of released sets (*[]uint64): a set's table is
// written at random places, which costs less in memory the process has
// touched already.
var tables sync.Pool

func slotTable(size int) []uint64 {
	if t, ok := tables.Get().(*[]uint64); ok && cap(*t) >= size {
		s := (*t)[:size]
		clear(s)
		return s
	}
	return make([]uint64, size)
}

// release gives s's table back for later sets; s is not used after.
func (s *keySet) release() {
	t := s.slots
	s.slots = nil
	tables.Put(&t)
}

// add puts row i in the set, unless a row of the same bytes is there
// (false).
func (s *keySet) add(i int) bool {
	slot, tag, found := s.find(s.rows.at(i))
	if found < 0 {
		s.put(slot, tag, i)
	}
	return found < 0
}

// put puts row i in the empty slot find returned for its key, with the
// tag find returned.
func (s *keySet) put(slot int, tag uint64, i int) { s.slots[slot] = tag | uint64(i+1) }

// has says whether a row of the set holds key.
func (s *keySet) has(key []byte) bool {
	_, _, found := s.find(key)
	return found >= 0
}

// find is the row holding key, or -1 and the empty slot where it goes;
// tag is the high half of key's hash, as its slot holds it.
func (s *keySet) find(key []byte) (slot int, tag uint64, row int) {
	return s.findHash(key, s.hash(key))
}

// findHash is find, given key's hash h.
func (s *keySet) findHash(key []byte, h uint64) (slot int, tag uint64, row int) {
	tag = h &^ (1<<32 - 1)
	size := len(s.slots) / s.parts
	base, mask := s.part(h)*size, uint64(size-1)
	for ; ; h++ {
		slot = base + int(h&mask)
		v := s.slots[slot]
		if v == 0 {
			return slot, tag, -1
		}
		if i := int(uint32(v)) - 1; v&^(1<<32-1) == tag && bytes.Equal(s.rows.at(i), key) {
			return slot, tag, i
		}
	}
}

// part is the part of the table a key of hash h is in: bit 31 of h,
// which picks no slot in a table of less than 2^31 slots.
func (s *keySet) part(h uint64) int { return int(h>>31) & (s.parts - 1) }

// addAll puts the rows of the set, but those of bad (in order of index),
// in the set in order, except those check refuses and those whose key an
// earlier row holds: it returns them, with the error. Each part of the
// set is filled by a goroutine of its own.
func (s *keySet) addAll(bad []badEntry, check func(i int) error) []badEntry {
	if s.parts == 1 {
		return s.addPart(0, bad, check)
	}
	refused := make([][]badEntry, s.parts)
	var wg sync.WaitGroup
	for p := range s.parts {
		wg.Go(func() { refused[p] = s.addPart(p, bad, check) })
	}
	wg.Wait()
	return slices.Concat(refused...)
}

// addPart is addAll for the rows whose keys are in part p.
func (s *keySet) addPart(p int, bad []badEntry, check func(i int) error) []badEntry {
	var refused []badEntry
	for i := range s.rows.len() {
		if len(bad) > 0 && bad[0].index == i {
			bad = bad[1:]
			continue
		}
		key := s.rows.at(i)
		h := s.hash(key)
		if s.part(h) != p {
			continue
		}
		if err := check(i); err != nil {
			refused = append(refused, badEntry{index: i, err: err, keyOK: true})
			continue
		}
		slot, tag, first := s.findHash(key, h)
		if first >= 0 {
			refused = append(refused, badEntry{index: i, err: &Error{Field: "key", Err: fmt.Errorf("same key as entry %d", first)}, keyOK: true})
			continue
		}
		s.put(slot, tag, i)
	}
	return refused
}

// hash mixes a key of at most 8 bytes as wyhash does (the two halves of
// a 128-bit product, xored), a longer one with maphash. The low bits pick
// the slot and the part, the high half is the tag.
func (s *keySet) hash(key []byte) uint64 {
	if len(key) > 8 {
		return maphash.Bytes(s.seed, key)
	}
	var b [8]byte
	copy(b[:], key)
	hi, lo := bits.Mul64(binary.LittleEndian.Uint64(b[:])^s.mix, s.mix^0x9e3779b97f4a7c15)
	return hi ^ lo
}
