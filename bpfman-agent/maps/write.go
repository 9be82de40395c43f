package maps

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// writer makes the kernel calls of one Apply.
type writer struct {
	m      *ebpf.Map
	atomic bool
	each   bool      // one call per entry, as if the map had no batch ops
	undo   *snapshot // what to restore if an atomic write fails
	// counter counts the map's entries; nil reads the map to count them.
	counter *Counter
	// spread gives each value to every CPU of a per-CPU map.
	spread spreader
}

// newWriter is a writer of m that writes in batches, not atomically.
func newWriter(m *ebpf.Map) (*writer, error) {
	cpus, err := valuesPerKey(m)
	if err != nil {
		return nil, fmt.Errorf("per-CPU values: %w", err)
	}
	return &writer{m: m, spread: spreader{cpus: cpus}}, nil
}

// apply removes the stale keys and writes the planned entries. It returns
// the number written and the failures, p's included, and the number of
// entries the map holds after, where the write tells it (-1 if not: see
// entriesAfter).
func (w *writer) apply(p batch, opts Options, keyType btf.Type) (int, []EntryError, int, error) {
	stale, others, err := w.stale(p, opts, keyType)
	if err != nil {
		return 0, p.failed, -1, err
	}
	if w.atomic {
		if full, err := w.prepare(p, stale); err != nil || len(full) > 0 {
			return 0, full, -1, err
		}
	}
	if err := w.remove(stale); err != nil {
		return 0, p.failed, -1, w.rollback(err)
	}
	bad := w.update(p.keys, p.values, p.index)
	if w.atomic && len(bad) > 0 {
		return 0, bad, -1, w.rollback(nil)
	}
	return p.keys.len() - len(bad), append(p.failed, bad...), w.entriesAfter(p, others, bad), nil
}

// entriesAfter is how many entries an exact write left in a hash map or
// LPM trie that took every planned entry: those and the others it kept
// (keys whose entries failed), as the map held them when read for the
// write. -1 where the write does not tell: mode Merge (the map may hold
// any other key), an array (Usage reports it full without a scan), an
// LRU hash (writing may evict), an entry the kernel refused.
func (w *writer) entriesAfter(p batch, others int, bad []EntryError) int {
	if others < 0 || len(bad) > 0 || isArray(w.m) || isLRU(w.m) {
		return -1
	}
	return p.keys.len() + others
}

// stale are the keys to remove: in mode Exact every key of the map that is
// not planned, in mode Merge the previous keys that are not. In mode
// Exact, others counts the keys of the map kept without being planned
// (-1 in mode Merge).
func (w *writer) stale(p batch, opts Options, keyType btf.Type) (stale rows, others int, err error) {
	if opts.Mode == Exact {
		return staleKeys(w.m, p)
	}
	return unlisted(opts.Previous, keyType, w.m.KeySize(), p), -1, nil
}

// prepare snapshots what an atomic write touches and checks, for a hash
// map, that the new keys fit; full lists the entries that would not.
func (w *writer) prepare(p batch, stale rows) (full []EntryError, err error) {
	if w.undo, err = takeSnapshot(w.m, w.spread.cpus, p.keys, stale); err != nil {
		return nil, err
	}
	if isArray(w.m) || isLRU(w.m) {
		return nil, nil
	}
	present, _, err := w.counter.Usage(w.m)
	if err != nil {
		return nil, err
	}
	return w.undo.overflow(p.index, int(w.m.MaxEntries())-present+stale.len()), nil
}

func (w *writer) rollback(cause error) error {
	if w.undo == nil {
		return cause
	}
	if err := w.undo.restore(w.m); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// update writes keys and values in batches (bounded for a per-CPU map:
// see spreader), resuming after an entry the kernel refuses, or one by
// one where the map has no batch update.
func (w *writer) update(keys, values rows, index []int) []EntryError {
	var failed []EntryError
	if w.each {
		return w.updateEach(keys, values, index, 0)
	}
	per := w.spread.batch(values.size, keys.len())
	for off := 0; off < keys.len(); {
		end := min(keys.len(), off+per)
		n, err := w.m.BatchUpdate(keys.span(off, end), w.spread.values(values, off, end), nil)
		switch {
		case err == nil:
			off = end
			continue
		case errors.Is(err, ebpf.ErrNotSupported):
			return append(failed, w.updateEach(keys, values, index, off)...)
		}
		at := min(off+n, end-1)
		failed = append(failed, EntryError{Index: index[at], Err: w.kernelError(err)})
		off = at + 1
	}
	return failed
}

func (w *writer) updateEach(keys, values rows, index []int, from int) []EntryError {
	var failed []EntryError
	for i := from; i < keys.len(); i++ {
		if err := w.m.Update(keys.at(i), w.spread.value(values, i), ebpf.UpdateAny); err != nil {
			failed = append(failed, EntryError{Index: index[i], Err: w.kernelError(err)})
		}
	}
	return failed
}

// kernelError names a full map as such: the kernel says E2BIG, which
// cilium/ebpf reads as "key too big".
func (w *writer) kernelError(err error) error {
	if errors.Is(err, unix.E2BIG) || errors.Is(err, unix.ENOSPC) {
		return fmt.Errorf("%w: the map holds max_entries (%d) keys already", ErrMapFull, w.m.MaxEntries())
	}
	return fmt.Errorf("write: %w", err)
}

// remove deletes keys from a hash map, or zeroes them in an array.
func (w *writer) remove(keys rows) error {
	if keys.len() == 0 {
		return nil
	}
	if isArray(w.m) {
		return w.zero(keys)
	}
	if w.each {
		return w.deleteEach(keys, 0)
	}
	filtered := false
	for off := 0; off < keys.len(); {
		n, err := w.m.BatchDelete(keys.from(off), nil)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ebpf.ErrNotSupported):
			return w.deleteEach(keys, off)
		case !errors.Is(err, ebpf.ErrKeyNotExist):
			return fmt.Errorf("delete keys: %w", err)
		}
		off += n + 1 // gone already: removed by someone else
		if !filtered && off < keys.len() {
			// A batch stops at a key that is gone, and all may be (a
			// removal tried again): delete only those the map holds,
			// rather than one call per key.
			if keys, err = held(w.m, keys.tail(off)); err != nil {
				return err
			}
			off, filtered = 0, true
		}
	}
	return nil
}

func (w *writer) deleteEach(keys rows, from int) error {
	for i := from; i < keys.len(); i++ {
		if err := w.m.Delete(keys.at(i)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete key %s: %w", Decode(keys.at(i), nil), err)
		}
	}
	return nil
}

func (w *writer) zero(keys rows) error {
	index := make([]int, keys.len())
	bad := w.update(keys, newRows(int(w.m.ValueSize()), keys.len()), index)
	if len(bad) > 0 {
		return fmt.Errorf("zero array entries: %w", bad[0].Err)
	}
	return nil
}
