package maps

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync"
)

// keySet is a set of rows by their bytes: an open-addressing hash table
// of row indices. Apply checks every key against one (a key listed twice,
// a key of the map no longer listed); unlike a map of strings, it
// allocates once, and neither copies nor converts a key. Each slot also
// holds the high half of its row's hash, so that a probe past another
// key rarely reads that key's row.
type keySet struct {
	rows  rows
	slots []uint64 // hash>>32<<32 | a row's index + 1; 0 is an empty slot
	seed  maphash.Seed
	mix   uint64 // an odd multiplier, per set, for keys of 8 bytes or less
}

// newKeySet makes an empty set of rows of r, room for n of them. Its
// table comes from earlier sets: release gives it back.
func newKeySet(r rows, n int) *keySet {
	size := 1 << bits.Len(uint(2*n)) // at most half full
	seed := maphash.MakeSeed()
	return &keySet{rows: r, slots: slotTable(size), seed: seed, mix: maphash.Comparable(seed, 0) | 1}
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
	h := s.hash(key)
	tag = h &^ (1<<32 - 1)
	mask := uint64(len(s.slots) - 1)
	for ; ; h++ {
		slot = int(h & mask)
		v := s.slots[slot]
		if v == 0 {
			return slot, tag, -1
		}
		if i := int(uint32(v)) - 1; v&^(1<<32-1) == tag && bytes.Equal(s.rows.at(i), key) {
			return slot, tag, i
		}
	}
}

// hash mixes a key of at most 8 bytes by multiplication (the high bits
// pick the slot: see find), a longer one with maphash.
func (s *keySet) hash(key []byte) uint64 {
	if len(key) > 8 {
		return maphash.Bytes(s.seed, key)
	}
	var b [8]byte
	copy(b[:], key)
	h := (binary.LittleEndian.Uint64(b[:]) ^ s.mix) * s.mix
	return bits.RotateLeft64(h, 32) ^ h>>29
}
