package maps

import (
	"encoding/json"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// chunk is how many entries one batch lookup reads.
const chunk = 4096

// Usage reports how many entries m holds and its max_entries. An array
// always holds max_entries entries (a zero value is a value), so Usage
// reports it full without reading it. It counts in bounded memory: the
// map is read chunk by chunk into buffers it reuses, never copied whole.
func Usage(m *ebpf.Map) (entries int, max uint32, err error) {
	if isArray(m) {
		return int(m.MaxEntries()), m.MaxEntries(), nil
	}
	s, err := newScanner(m, true)
	if err != nil {
		return 0, m.MaxEntries(), err
	}
	err = s.each(func(n int) error { entries += n; return nil })
	return entries, m.MaxEntries(), err
}

// staleKeys lists the keys of m that p neither plans nor keeps (for an
// array, such indices whose value is not zero), and counts those it keeps
// without planning them.
func staleKeys(m *ebpf.Map, p batch) (stale rows, others int, err error) {
	keys, values, err := dump(m)
	if err != nil {
		return rows{}, -1, err
	}
	var idx []int
	for i := range keys.len() {
		switch key := keys.at(i); {
		case p.set.has(key):
		case p.keep[string(key)]:
			others++
		case !isArray(m) || !allZero(values.at(i)):
			idx = append(idx, i)
		}
	}
	return keys.pick(idx), others, nil
}

// held are the keys of keys that m holds, read in one scan of m.
func held(m *ebpf.Map, keys rows) (rows, error) {
	set := newKeySet(keys, keys.len(), 1)
	defer set.release()
	for i := range keys.len() {
		set.add(i)
	}
	s, err := newScanner(m, true)
	if err != nil {
		return rows{}, err
	}
	var idx []int
	err = s.each(func(n int) error {
		for i := range n {
			if _, _, j := set.find(s.keys.at(i)); j >= 0 {
				idx = append(idx, j)
			}
		}
		return nil
	})
	if err != nil {
		return rows{}, err
	}
	slices.Sort(idx)
	return keys.pick(idx), nil
}

// unlisted are the previous keys that p neither plans nor keeps, each
// once, of type keyType and size bytes. A key that does not encode is
// left out: it can never have been written. A previous key that the
// entry at its place lists in the same text (a policy listing its keys as
// before) is kept without being encoded; the others are encoded and
// looked up, in parts (see inParts).
func unlisted(previous []json.RawMessage, keyType btf.Type, size uint32, p batch) rows {
	keys := reusedRows(int(size), len(previous))
	defer keys.release()
	enc := newEncoder(keyType, size)
	idx := inParts(len(previous), func(lo, hi int) []int {
		var idx []int
		for i := lo; i < hi; i++ {
			if !p.listed(i, previous[i]) && enc.into(keys.at(i), previous[i]) == nil && !p.wants(keys.at(i)) {
				idx = append(idx, i)
			}
		}
		return idx
	})
	return distinct(keys.pick(idx))
}

// distinct is r without the rows that repeat an earlier one.
func distinct(r rows) rows {
	set := newKeySet(r, r.len(), 1)
	defer set.release()
	var idx []int
	for i := range r.len() {
		if set.add(i) {
			idx = append(idx, i)
		}
	}
	if len(idx) == r.len() {
		return r
	}
	return r.pick(idx)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// dump reads every key and value of m.
func dump(m *ebpf.Map) (keys, values rows, err error) {
	s, err := newScanner(m, false)
	if err != nil {
		return rows{}, rows{}, err
	}
	var kout, vout []byte
	vs := s.cpus * s.values.size
	err = s.each(func(n int) error {
		kout, vout = append(kout, s.keys.buf[:n*s.keys.size]...), append(vout, s.values.buf[:n*vs]...)
		return nil
	})
	if err != nil {
		return rows{}, rows{}, err
	}
	return fromBytes(s.keys.size, kout), fromBytes(vs, vout), nil
}

// fromBytes makes rows of flat bytes.
func fromBytes(size int, b []byte) rows {
	n := 0
	if size > 0 {
		n = len(b) / size
	}
	r := newRows(size, n)
	copy(r.buf, b)
	return r
}
