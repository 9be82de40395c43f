package maps

import (
	"bytes"
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
	var last lastValue
	for i := lo; i < hi; i++ {
		e := entries[i]
		if err := k.into(keys.at(i), e.Key); err != nil {
			bad = append(bad, badEntry{index: i, err: within("key", err)})
			continue
		}
		if err := last.into(values.at(i), e.Value, v); err != nil {
			bad = append(bad, badEntry{index: i, err: within("value", err), keyOK: true})
		}
	}
	return bad
}

// lastValue is the last value that encoded, as JSON and as bytes: lists
// often give every key the same value (a blocklist's verdict, a zero
// counter), which is then encoded once and copied.
type lastValue struct{ raw, bytes []byte }

// into encodes raw into dst as v does, or copies the last value if raw
// is the same text.
func (l *lastValue) into(dst, raw []byte, v encoder) error {
	if l.bytes != nil && bytes.Equal(raw, l.raw) {
		copy(dst, l.bytes)
		return nil
	}
	if err := v.into(dst, raw); err != nil {
		return err
	}
	l.raw, l.bytes = raw, dst
	return nil
}
