package maps

import (
	"bytes"
	"runtime"
	"slices"
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
// i, and returns the entries that do not encode, in order.
func encodeAll(keys, values rows, entries []Entry, k, v encoder) []badEntry {
	return inParts(len(entries), func(lo, hi int) []badEntry { return encodePart(keys, values, entries, lo, hi, k, v) })
}

// inParts calls fn for the items lo to hi-1 of n, and returns what the
// calls return, in order of lo. A long list is split between the
// processors, a goroutine per part.
func inParts[T any](n int, fn func(lo, hi int) []T) []T {
	parts := min(runtime.GOMAXPROCS(0), n/perWorker)
	if parts <= 1 {
		return fn(0, n)
	}
	out := make([][]T, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*n/parts, (p+1)*n/parts
		wg.Go(func() { out[p] = fn(lo, hi) })
	}
	wg.Wait()
	return slices.Concat(out...)
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
