package maps

import (
	"runtime"
	"sync"
)

// badEntry is an entry that did not encode; keyOK says its key did.
type badEntry struct {
	index int
	err   error
	keyOK bool
}

// perWorker is the fewest entries worth a goroutine of their own.
const perWorker = 512

// encodeAll encodes entry i into keys.at(i) and values.at(i), for every
// i, and returns the entries that do not encode, in order. A long list is
// split between the processors: each part is encoded into its own rows.
func encodeAll(keys, values rows, entries []Entry, k, v encoder) []badEntry {
	parts := min(runtime.GOMAXPROCS(0), len(entries)/perWorker)
	if parts <= 1 {
		return encodePart(keys, values, entries, 0, len(entries), k, v)
	}
	bad := make([][]badEntry, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(entries)/parts, (p+1)*len(entries)/parts
		wg.Go(func() { bad[p] = encodePart(keys, values, entries, lo, hi, k, v) })
	}
	wg.Wait()
	var out []badEntry
	for _, b := range bad {
		out = append(out, b...)
	}
	return out
}

// encodePart encodes the entries lo to hi-1.
func encodePart(keys, values rows, entries []Entry, lo, hi int, k, v encoder) []badEntry {
	var bad []badEntry
	for i := lo; i < hi; i++ {
		if keyOK, err := encodeEntry(keys.at(i), values.at(i), entries[i], k, v); err != nil {
			bad = append(bad, badEntry{index: i, err: err, keyOK: keyOK})
		}
	}
	return bad
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
