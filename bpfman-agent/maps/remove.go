package maps

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Remove deletes the given keys from m (in an array, zeroes their values),
// for a policy that goes away. Keys that are absent are not an error; keys
// that do not encode are skipped, as they can never have been written.
func Remove(m *ebpf.Map, keyType btf.Type, keys []json.RawMessage) (int, error) {
	if err := checkMap(m, Merge); err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, raw := range keys {
		k, err := Encode(raw, keyType, m.KeySize())
		if err != nil {
			continue
		}
		if err := remove(m, k); err != nil {
			errs = append(errs, fmt.Errorf("remove key %s: %w", raw, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

func remove(m *ebpf.Map, key []byte) error {
	if isArray(m) {
		return m.Update(key, make([]byte, m.ValueSize()), ebpf.UpdateExist)
	}
	err := m.Delete(key)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// encodeKeys encodes keys, skipping (and deduplicating away) those that do
// not encode: they can never have been written.
func encodeKeys(keys []json.RawMessage, keyType btf.Type, size uint32) rows {
	out := newRows(int(size), len(keys))
	seen := newKeySet(out, len(keys))
	enc := newEncoder(keyType, size)
	n := 0
	for _, raw := range keys {
		if enc.into(out.at(n), raw) != nil {
			continue
		}
		if _, added := seen.add(n); added {
			n++
		}
	}
	return out.truncate(n)
}
