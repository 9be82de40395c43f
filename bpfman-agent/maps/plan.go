package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
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
	// set holds keys, by their bytes: the rows of every entry, as encoded
	// (see plan).
	set *keySet
	// own are the rows the batch's memory is in, for release.
	own []rows
	// entries are the entries planned, as the policy lists them.
	entries []Entry
}

// plan encodes every entry and checks it against m, without a kernel call.
// Keys and values are encoded straight into the rows the kernel reads, a
// row per entry (see encodeAll); the keys are then checked and put in a
// set, which finds keys listed twice (see keySet.addAll); the rows of
// the entries that failed, if any, are left out of a copy.
func plan(m *ebpf.Map, keyType, valueType btf.Type, entries []Entry) batch {
	n := len(entries)
	keys, values := reusedRows(int(m.KeySize()), n), reusedRows(int(m.ValueSize()), n)
	bad := encodeAll(keys, values, entries, newEncoder(keyType, m.KeySize()), newEncoder(valueType, m.ValueSize()))
	set := newKeySet(keys, n, setParts(n))
	bad = append(bad, set.addAll(bad, func(i int) error { return check(m, keys.at(i), i, n) })...)
	slices.SortFunc(bad, func(a, b badEntry) int { return a.index - b.index })
	b := batch{set: set, keep: make(map[string]bool), own: []rows{keys, values}, entries: entries}
	for _, e := range bad {
		b.fail(e.index, e.err, e.keyOK, keys.at(e.index))
	}
	b.keys, b.values, b.index = compact(keys, values, bad)
	if len(bad) > 0 {
		b.own = append(b.own, b.keys, b.values)
	}
	return b
}

// compact is the rows of the entries not in bad (in order of index), and
// the index of each: keys and values themselves when bad is empty, else
// copies.
func compact(keys, values rows, bad []badEntry) (rows, rows, []int) {
	index := reusedIndex(keys.len() - len(bad))
	if len(bad) == 0 {
		for i := range index {
			index[i] = i
		}
		return keys, values, index
	}
	k, v := reusedRows(keys.size, len(index)), reusedRows(values.size, len(index))
	w := 0
	for i := range keys.len() {
		if len(bad) > 0 && bad[0].index == i {
			bad = bad[1:]
			continue
		}
		copy(k.at(w), keys.at(i))
		copy(v.at(w), values.at(i))
		index[w] = i
		w++
	}
	return k, v, index
}

func (b *batch) fail(i int, err error, keyOK bool, key []byte) {
	b.failed = append(b.failed, EntryError{Index: i, Err: err})
	if keyOK {
		b.keep[string(key)] = true
	}
}

// check checks what Encode cannot know of entry i of total, whose key
// is key: the map's capacity and array indices.
func check(m *ebpf.Map, key []byte, i, total int) error {
	if max := int(m.MaxEntries()); i >= max {
		return fmt.Errorf("%w: the policy lists %d entries, the map holds at most %d", ErrMapFull, total, max)
	}
	if isArray(m) {
		if idx := binary.NativeEndian.Uint32(key); idx >= m.MaxEntries() {
			return &Error{Field: "key", Err: fmt.Errorf("index %d is out of the array's range [0, %d]", idx, m.MaxEntries()-1)}
		}
	}
	return nil
}

// release gives the batch's memory back for later batches; b is not used
// after.
func (b *batch) release() {
	for _, r := range b.own {
		r.release()
	}
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

// listed says whether entry i lists raw as its key, the same text: the
// batch then plans or keeps that key, if it encodes (see wants).
func (b *batch) listed(i int, raw []byte) bool {
	return i < len(b.entries) && bytes.Equal(b.entries[i].Key, raw)
}

// wants says whether the batch plans or keeps key.
func (b *batch) wants(key []byte) bool {
	return b.set.has(key) || b.keep[string(key)]
}
