package maps

import (
	"encoding/json"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Remove deletes the given keys from m (in an array, zeroes their values),
// for a policy that goes away, in batches where the map has them. Keys
// that are absent are not an error; keys that do not encode are skipped,
// as they can never have been written. It returns how many keys it
// removed or found absent.
func Remove(m *ebpf.Map, keyType btf.Type, keys []json.RawMessage) (int, error) {
	if err := checkMap(m, Merge); err != nil {
		return 0, err
	}
	w, err := newWriter(m)
	if err != nil {
		return 0, err
	}
	rows := encodeKeys(keys, keyType, m.KeySize())
	if err := w.remove(rows); err != nil {
		return 0, err
	}
	return rows.len(), nil
}

// encodeKeys encodes keys, skipping (and deduplicating away) those that do
// not encode: they can never have been written.
func encodeKeys(keys []json.RawMessage, keyType btf.Type, size uint32) rows {
	out := newRows(int(size), len(keys))
	enc := newEncoder(keyType, size)
	n := 0
	for _, raw := range keys {
		if enc.into(out.at(n), raw) == nil {
			n++
		}
	}
	return distinct(out.truncate(n))
}
