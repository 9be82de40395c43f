package maps

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfleet/bpfleet/internal/maptype"
)

// Entry is one key and its value, as JSON from the API (see Encode).
type Entry struct{ Key, Value json.RawMessage }

// Mode says which keys of a map a policy manages. The empty Mode is
// Merge, the API's default.
type Mode string

// Modes.
const (
	// Merge writes the listed keys and leaves any other key alone.
	Merge Mode = "merge"
	// Exact also removes every key that is not listed.
	Exact Mode = "exact"
)

// Result reports an Apply.
type Result struct {
	// Applied counts the entries written.
	Applied int
	// Failed lists the entries not written, by index, in order.
	Failed []EntryError
	// Entries is the number of entries in the map after the write (for an
	// array, its max_entries: see Usage).
	Entries    int
	MaxEntries uint32
}

// Options say how Apply writes.
type Options struct {
	Mode Mode
	// Atomic writes all entries or none.
	Atomic bool
	// Previous are the keys the same policy wrote before. In mode Merge,
	// those it no longer lists are removed (the policy managed them); other
	// keys are left alone.
	Previous []json.RawMessage
	// Counter counts the map's entries after the write (Result.Entries)
	// from the kernel's count; nil reads the map to count them.
	Counter *Counter
}

// Apply writes entries into m, whose key and value BTF types are keyType
// and valueType (either may be nil: see Encode), and removes the keys
// opts.Mode says the policy no longer wants (zeroes them in an array):
// with Exact every key not listed, with Merge the Previous keys not
// listed.
//
// Every entry is encoded and checked before the first kernel call. An
// entry that does not encode, does not fit (ErrMapFull) or repeats a key
// is reported in Result.Failed. Without Atomic the other entries are
// written; with Atomic nothing is, and a kernel failure part way is
// rolled back. The error is for failures of the whole write: an unknown
// mode, an unsupported map type, a kernel error outside any one entry, a
// rollback that failed.
func Apply(m *ebpf.Map, keyType, valueType btf.Type, entries []Entry, opts Options) (Result, error) {
	w, err := newWriter(m)
	if err != nil {
		return Result{MaxEntries: m.MaxEntries()}, err
	}
	w.atomic, w.counter = opts.Atomic, opts.Counter
	return apply(w, keyType, valueType, entries, opts)
}

func apply(w *writer, keyType, valueType btf.Type, entries []Entry, opts Options) (Result, error) {
	res := Result{MaxEntries: w.m.MaxEntries()}
	if opts.Mode == "" {
		opts.Mode = Merge
	}
	if err := checkMap(w.m, opts.Mode); err != nil {
		return res, err
	}
	p := plan(w.m, keyType, valueType, entries)
	defer p.release()
	res.Failed = p.failed
	entriesAfter := -1
	if !w.atomic || len(p.failed) == 0 {
		var err error
		if res.Applied, res.Failed, entriesAfter, err = w.apply(p, opts, keyType); err != nil {
			return res, err
		}
	}
	slices.SortFunc(res.Failed, func(a, b EntryError) int { return a.Index - b.Index })
	return w.finish(res, entriesAfter)
}

// finish counts the map's entries, unless the write told them (n >= 0).
func (w *writer) finish(res Result, n int) (Result, error) {
	if n >= 0 {
		res.Entries = n
		return res, nil
	}
	n, _, err := w.counter.Usage(w.m)
	res.Entries = n
	return res, err
}

// checkMap refuses modes and map types Apply cannot write.
func checkMap(m *ebpf.Map, mode Mode) error {
	if mode != Merge && mode != Exact {
		return fmt.Errorf("mode %q: want %q or %q", mode, Merge, Exact)
	}
	if maptype.CanWrite(m.Type()) {
		return nil
	}
	return fmt.Errorf("map type %s: writing entries is not supported (%s are)", m.Type(), maptype.Writable)
}

// isArray says whether m's keys are the indices 0..max_entries-1, always
// present (per CPU or not).
func isArray(m *ebpf.Map) bool { return m.Type() == ebpf.Array || m.Type() == ebpf.PerCPUArray }

// isLRU says whether writing m may evict other keys.
func isLRU(m *ebpf.Map) bool { return m.Type() == ebpf.LRUHash || m.Type() == ebpf.LRUCPUHash }
