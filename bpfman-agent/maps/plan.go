package maps

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// batch is the encoded entries that passed every check, with the index
// in the policy of each.
type batch struct {
	keys, values rows
	index        []int
	failed       []EntryError
	// keep holds the keys of failed entries whose key encoded: mode Exact
	// leaves them as they are rather than remove them.
	keep map[string]bool
	// set holds keys, by their bytes.
	set *keySet
}

// plan encodes every entry and checks it against m, without a kernel call.
// Keys and values are encoded straight into the rows the kernel reads, a
// row per entry (see encodeAll); one pass then checks each encoded entry,
// finds keys listed twice, and moves the rows that pass together.
func plan(m *ebpf.Map, keyType, valueType btf.Type, entries []Entry) batch {
	b := batch{keys: reusedRows(int(m.KeySize()), len(entries)), values: reusedRows(int(m.ValueSize()), len(entries)),
		index: reusedIndex(len(entries)), keep: make(map[string]bool)}
	bad := encodeAll(b.keys, b.values, entries, newEncoder(keyType, m.KeySize()), newEncoder(valueType, m.ValueSize()))
	b.set = newKeySet(b.keys, len(entries))
	w := 0
	for i := range entries {
		if len(bad) > 0 && bad[0].index == i {
			b.fail(i, bad[0].err, bad[0].keyOK, b.keys.at(i))
			bad = bad[1:]
			continue
		}
		if b.pass(m, i, w, len(entries)) {
			w++
		}
	}
	b.keys, b.values, b.index = b.keys.truncate(w), b.values.truncate(w), b.index[:w]
	return b
}

// pass checks entry i, encoded in row i, and moves it to row w if it
// passes, putting it in b.set.
func (b *batch) pass(m *ebpf.Map, i, w, total int) bool {
	slot, tag, first := b.set.find(b.keys.at(i))
	err := b.check(m, i, total)
	if err == nil && first >= 0 {
		err = &Error{Field: "key", Err: fmt.Errorf("same key as entry %d", b.index[first])}
	}
	if err != nil {
		b.fail(i, err, true, b.keys.at(i))
		return false
	}
	b.move(w, i)
	b.set.put(slot, tag, w)
	return true
}

func (b *batch) fail(i int, err error, keyOK bool, key []byte) {
	b.failed = append(b.failed, EntryError{Index: i, Err: err})
	if keyOK {
		b.keep[string(key)] = true
	}
}

// check checks what Encode cannot know of entry i, encoded in row i: the
// map's capacity and array indices.
func (b *batch) check(m *ebpf.Map, i, total int) error {
	if max := int(m.MaxEntries()); i >= max {
		return fmt.Errorf("%w: the policy lists %d entries, the map holds at most %d", ErrMapFull, total, max)
	}
	if isArray(m) {
		if idx := binary.NativeEndian.Uint32(b.keys.at(i)); idx >= m.MaxEntries() {
			return &Error{Field: "key", Err: fmt.Errorf("index %d is out of the array's range [0, %d]", idx, m.MaxEntries()-1)}
		}
	}
	return nil
}

// move moves entry i, encoded in row i, to row w.
func (b *batch) move(w, i int) {
	if w != i {
		copy(b.keys.at(w), b.keys.at(i))
		copy(b.values.at(w), b.values.at(i))
	}
	b.index[w] = i
}

// release gives the batch's memory back for later batches; b is not used
// after.
func (b *batch) release() {
	b.keys.release()
	b.values.release()
	b.set.release()
	index := b.index[:cap(b.index)]
	indexes.Put(&index)
}

// indexes holds the index slices of released batches (*[]int).
var indexes sync.Pool

// reusedIndex is an index slice of n, from a released batch if one is
// large enough; its contents are left as they were.
func reusedIndex(n int) []int {
	if s, ok := indexes.Get().(*[]int); ok && cap(*s) >= n {
		return (*s)[:n]
	}
	return make([]int, n)
}

// wants says whether the batch plans or keeps key.
func (b *batch) wants(key []byte) bool {
	return b.set.has(key) || b.keep[string(key)]
}
