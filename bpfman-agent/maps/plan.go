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
}

// plan encodes every entry and checks it against m, without a kernel call.
func plan(m *ebpf.Map, keyType, valueType btf.Type, entries []Entry) batch {
	b := batch{keys: newRows(int(m.KeySize()), len(entries)), values: newRows(int(m.ValueSize()), len(entries)),
		keep: make(map[string]bool)}
	seen := make(map[string]int, len(entries))
	n := 0
	for i, e := range entries {
		keyOK, err := encodeEntry(b.keys.at(n), b.values.at(n), e, keyType, valueType)
		if err == nil {
			err = checkEntry(m, b.keys.at(n), i, len(entries), seen)
		}
		if err != nil {
			b.fail(i, err, keyOK)
			continue
		}
		b.index = append(b.index, i)
		n++
	}
	b.keys, b.values = b.keys.truncate(n), b.values.truncate(n)
	return b
}

func (b *batch) fail(i int, err error, key []byte) {
	b.failed = append(b.failed, EntryError{Index: i, Err: err})
	if key != nil {
		b.keep[string(key)] = true
	}
}

// encodeEntry encodes e into key and value; keyOK is the key when it
// encoded, even if the value did not.
func encodeEntry(key, value []byte, e Entry, keyType, valueType btf.Type) (keyOK []byte, err error) {
	k, err := Encode(e.Key, keyType, uint32(len(key)))
	if err != nil {
		return nil, within("key", err)
	}
	copy(key, k)
	v, err := Encode(e.Value, valueType, uint32(len(value)))
	if err != nil {
		return k, within("value", err)
	}
	copy(value, v)
	return k, nil
}

// checkEntry checks what Encode cannot know: the map's capacity, array
// indices, keys listed twice.
func checkEntry(m *ebpf.Map, key []byte, i, total int, seen map[string]int) error {
	if max := int(m.MaxEntries()); i >= max {
		return fmt.Errorf("%w: the policy lists %d entries, the map holds at most %d", ErrMapFull, total, max)
	}
	if isArray(m) {
		if idx := binary.NativeEndian.Uint32(key); idx >= m.MaxEntries() {
			return &Error{Field: "key", Err: fmt.Errorf("index %d is out of the array's range [0, %d]", idx, m.MaxEntries()-1)}
		}
	}
	if first, dup := seen[string(key)]; dup {
		return &Error{Field: "key", Err: fmt.Errorf("same key as entry %d", first)}
	}
	seen[string(key)] = i
	return nil
}
