package maps

import (
	"encoding/binary"
	"fmt"

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
// Keys and values are encoded straight into the rows the kernel reads;
// keys listed twice are found after, in one pass over the encoded keys.
func plan(m *ebpf.Map, keyType, valueType btf.Type, entries []Entry) batch {
	b := batch{keys: newRows(int(m.KeySize()), len(entries)), values: newRows(int(m.ValueSize()), len(entries)),
		index: make([]int, 0, len(entries)), keep: make(map[string]bool)}
	keys, values := newEncoder(keyType, m.KeySize()), newEncoder(valueType, m.ValueSize())
	n := 0
	for i, e := range entries {
		keyOK, err := encodeEntry(b.keys.at(n), b.values.at(n), e, keys, values)
		if err == nil {
			err = b.check(m, n, i, len(entries))
		}
		if err != nil {
			b.fail(i, err, keyOK, b.keys.at(n))
			continue
		}
		b.index = append(b.index, i)
		n++
	}
	b.keys, b.values = b.keys.truncate(n), b.values.truncate(n)
	b.dedup()
	return b
}

func (b *batch) fail(i int, err error, keyOK bool, key []byte) {
	b.failed = append(b.failed, EntryError{Index: i, Err: err})
	if keyOK {
		b.keep[string(key)] = true
	}
}

// encodeEntry encodes e into key and value; keyOK says the key encoded,
// even if the value did not.
func encodeEntry(key, value []byte, e Entry, keys, values encoder) (keyOK bool, err error) {
	if err := keys.into(key, e.Key); err != nil {
		return false, within("key", err)
	}
	if err := values.into(value, e.Value); err != nil {
		return true, within("value", err)
	}
	return true, nil
}

// check checks what Encode cannot know of entry i, encoded in row n: the
// map's capacity and array indices.
func (b *batch) check(m *ebpf.Map, n, i, total int) error {
	if max := int(m.MaxEntries()); i >= max {
		return fmt.Errorf("%w: the policy lists %d entries, the map holds at most %d", ErrMapFull, total, max)
	}
	if isArray(m) {
		if idx := binary.NativeEndian.Uint32(b.keys.at(n)); idx >= m.MaxEntries() {
			return &Error{Field: "key", Err: fmt.Errorf("index %d is out of the array's range [0, %d]", idx, m.MaxEntries()-1)}
		}
	}
	return nil
}

// dedup puts the rows in b.set, failing each whose key an earlier row
// holds, and moves the rows after it down. It is a pass of its own, with
// no encoding in between, so that the processor looks up several keys'
// slots at once.
func (b *batch) dedup() {
	b.set = newKeySet(b.keys, b.keys.len())
	w := 0
	for r := range b.keys.len() {
		slot, tag, first := b.set.find(b.keys.at(r))
		if first >= 0 {
			b.fail(b.index[r], &Error{Field: "key", Err: fmt.Errorf("same key as entry %d", b.index[first])}, true, b.keys.at(r))
			continue
		}
		if w != r {
			b.move(w, r)
		}
		b.set.put(slot, tag, w)
		w++
	}
	b.keys, b.values, b.index = b.keys.truncate(w), b.values.truncate(w), b.index[:w]
}

// move copies row r (key, value and index) to row w.
func (b *batch) move(w, r int) {
	copy(b.keys.at(w), b.keys.at(r))
	copy(b.values.at(w), b.values.at(r))
	b.index[w] = b.index[r]
}

// wants says whether the batch plans or keeps key.
func (b *batch) wants(key []byte) bool {
	return b.set.has(key) || b.keep[string(key)]
}
