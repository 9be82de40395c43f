package maps

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// chunk is how many entries one batch lookup reads.
const chunk = 4096

// Usage reports how many entries m holds and its max_entries. An array
// always holds max_entries entries (a zero value is a value), so Usage
// reports it full without reading it.
func Usage(m *ebpf.Map) (entries int, max uint32, err error) {
	if isArray(m) {
		return int(m.MaxEntries()), m.MaxEntries(), nil
	}
	keys, _, err := dump(m)
	return keys.len(), m.MaxEntries(), err
}

// staleKeys lists the keys of m that are neither planned nor kept: for
// an array, such indices whose value is not zero.
func staleKeys(m *ebpf.Map, planned rows, keep map[string]bool) (rows, error) {
	keys, values, err := dump(m)
	if err != nil {
		return rows{}, err
	}
	want := wanted(planned, keep)
	var idx []int
	for i := range keys.len() {
		if !want[string(keys.at(i))] && (!isArray(m) || !allZero(values.at(i))) {
			idx = append(idx, i)
		}
	}
	return keys.pick(idx), nil
}

// unlisted are the previous keys that p neither plans nor keeps.
func unlisted(previous rows, p batch) rows {
	want := wanted(p.keys, p.keep)
	var idx []int
	for i := range previous.len() {
		if !want[string(previous.at(i))] {
			idx = append(idx, i)
		}
	}
	return previous.pick(idx)
}

func wanted(planned rows, keep map[string]bool) map[string]bool {
	want := make(map[string]bool, planned.len()+len(keep))
	for k := range keep {
		want[k] = true
	}
	for i := range planned.len() {
		want[string(planned.at(i))] = true
	}
	return want
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// dump reads every key and value of m, in batches where it can.
func dump(m *ebpf.Map) (keys, values rows, err error) {
	keys, values, err = dumpBatch(m)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return dumpEach(m)
	}
	return keys, values, err
}

func dumpBatch(m *ebpf.Map) (keys, values rows, err error) {
	ks, vs := int(m.KeySize()), int(m.ValueSize())
	kbuf, vbuf := newRows(ks, chunk), newRows(vs, chunk)
	var kout, vout []byte
	cursor := new(ebpf.MapBatchCursor)
	for {
		n, err := m.BatchLookup(cursor, kbuf.from(0), vbuf.from(0), nil)
		kout, vout = append(kout, kbuf.buf[:n*ks]...), append(vout, vbuf.buf[:n*vs]...)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return fromBytes(ks, kout), fromBytes(vs, vout), nil
		}
		if err != nil {
			return rows{}, rows{}, fmt.Errorf("read map: %w", err)
		}
	}
}

func dumpEach(m *ebpf.Map) (keys, values rows, err error) {
	var kout, vout []byte
	k, v := make([]byte, m.KeySize()), make([]byte, m.ValueSize())
	it := m.Iterate()
	for it.Next(k, v) {
		kout, vout = append(kout, k...), append(vout, v...)
	}
	if err := it.Err(); err != nil {
		return rows{}, rows{}, fmt.Errorf("read map: %w", err)
	}
	return fromBytes(len(k), kout), fromBytes(len(v), vout), nil
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
