package maps

import (
	"bytes"
	"hash/maphash"
	"math/bits"
)

// keySet is a set of rows by their bytes: an open-addressing hash table
// of row indices. Apply checks every key against one (a key listed twice,
// a key of the map no longer listed); unlike a map of strings, it
// allocates once, and neither copies nor converts a key.
type keySet struct {
	rows  rows
	slots []int32 // a row's index + 1; 0 is an empty slot
	seed  maphash.Seed
}

// newKeySet makes an empty set of rows of r, room for n of them.
func newKeySet(r rows, n int) *keySet {
	size := 1 << bits.Len(uint(2*n)) // at most half full
	return &keySet{rows: r, slots: make([]int32, size), seed: maphash.MakeSeed()}
}

// add puts row i in the set, unless a row of the same bytes is there:
// then it returns that row and false.
func (s *keySet) add(i int) (int, bool) {
	slot, found := s.find(s.rows.at(i))
	if found >= 0 {
		return found, false
	}
	s.slots[slot] = int32(i + 1)
	return i, true
}

// has says whether a row of the set holds key.
func (s *keySet) has(key []byte) bool {
	_, found := s.find(key)
	return found >= 0
}

// find is the row holding key, or -1 and the empty slot where it goes.
func (s *keySet) find(key []byte) (slot int, row int) {
	mask := uint64(len(s.slots) - 1)
	for h := maphash.Bytes(s.seed, key); ; h++ {
		slot = int(h & mask)
		i := int(s.slots[slot]) - 1
		if i < 0 || bytes.Equal(s.rows.at(i), key) {
			return slot, i
		}
	}
}
