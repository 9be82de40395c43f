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
// Keys and values are encoded straight into the rows the kernel reads.
func plan(m *ebpf.Map, keyType, valueType btf.Type, entries []Entry) batch {
	b := batch{keys: newRows(int(m.KeySize()), len(entries)), values: newRows(int(m.ValueSize()), len(entries)),
		index: make([]int, 0, len(entries)), keep: make(map[string]bool)}
	keys, values := newEncoder(keyType, m.KeySize()), newEncoder(valueType, m.ValueSize())
	b.set = newKeySet(b.keys, len(entries))
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
// map's capacity, array indices, keys listed twice. b.set holds the rows
// before n, and takes n if it passes.
func (b *batch) check(m *ebpf.Map, n, i, total int) error {
	key := b.keys.at(n)
	if max := int(m.MaxEntries()); i >= max {
		return fmt.Errorf("%w: the policy lists %d entries, the map holds at most %d", ErrMapFull, total, max)
	}
	if isArray(m) {
		if idx := binary.NativeEndian.Uint32(key); idx >= m.MaxEntries() {
			return &Error{Field: "key", Err: fmt.Errorf("index %d is out of the array's range [0, %d]", idx, m.MaxEntries()-1)}
		}
	}
	if first, added := b.set.add(n); !added {
		return &Error{Field: "key", Err: fmt.Errorf("same key as entry %d", b.index[first])}
	}
	return nil
}

// wants says whether the batch plans or keeps key.
func (b *batch) wants(key []byte) bool {
	return b.set.has(key) || b.keep[string(key)]
}
