package maps

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// stats is struct stats of bpf.PerCPUCounter, one CPU's copy.
type stats struct{ Calls, Weighted uint64 }

// perCPUSpec is map name of bpf.PerCPUCounter (weight, stats or seen),
// with max entries max.
func perCPUSpec(tb testing.TB, name string, max uint32) *ebpf.MapSpec {
	spec := testkernel.MapSpecOf(tb, bpf.PerCPUCounter, name).Copy()
	spec.MaxEntries = max
	return spec
}

// onEveryCPU reads key's value on every possible CPU (into a []V) and
// fails unless each is want. An absent key reads as zeros.
func onEveryCPU[V comparable](t *testing.T, m *ebpf.Map, key uint32, want V) {
	t.Helper()
	var got []V
	if err := m.Lookup(key, &got); err != nil {
		if want == *new(V) && errors.Is(err, ebpf.ErrKeyNotExist) {
			return
		}
		t.Fatalf("%s key %d: %v", m.Type(), key, err)
	}
	for cpu, v := range got {
		if v != want {
			t.Fatalf("%s key %d holds %+v on the CPUs, want %+v on each (CPU %d differs)", m.Type(), key, got, want, cpu)
		}
	}
}

func absent(t *testing.T, m *ebpf.Map, key uint32) {
	t.Helper()
	var got []stats
	if err := m.Lookup(key, &got); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Fatalf("%s key %d: %+v, %v; want it gone", m.Type(), key, got, err)
	}
}

// TestApplyPerCPUHash writes the per-CPU hash and the LRU per-CPU hash of
// a libbpf-style object: a value, written as one CPU's (width and fields
// checked as for any map), is on every CPU; an exact policy removes the
// other keys; Remove removes its keys; the counts Apply reports are the
// map's, with and without a Counter.
func TestApplyPerCPUHash(t *testing.T) {
	testkernel.Require(t)
	t.Run("stats", func(t *testing.T) {
		spec := perCPUSpec(t, "stats", 16)
		m := newMap(t, spec)
		res := mustApply(t, m, spec, Merge, false, entry(`1`, `{"calls": 5, "weighted": 7}`), entry(`2`, `{"calls": 1}`),
			entry(`3`, `"0x0102"`), entry(`4`, `{"calls": 1, "drops": 2}`), entry(`5`, `{"calls": -1}`))
		want(t, res, 2, 3, 2)
		wantFailure(t, res, 2, "value: want 16 bytes, got 0x0102 (2 bytes)")
		wantFailure(t, res, 3, `value: unknown field "drops" (struct stats has: calls, weighted)`)
		wantFailure(t, res, 4, "value.calls: -1 is negative, the type is unsigned")
		onEveryCPU(t, m, 1, stats{5, 7})
		onEveryCPU(t, m, 2, stats{1, 0})

		res = mustApply(t, m, spec, Exact, false, entry(`2`, `{"calls": 3, "weighted": 4}`))
		want(t, res, 1, 0, 1)
		absent(t, m, 1)
		onEveryCPU(t, m, 2, stats{3, 4})
		if n, err := Remove(m, spec.Key, []json.RawMessage{[]byte(`2`)}); n != 1 || err != nil {
			t.Fatalf("Remove = %d, %v", n, err)
		}
		absent(t, m, 2)
	})
	t.Run("seen", func(t *testing.T) {
		spec := perCPUSpec(t, "seen", 16)
		m := newMap(t, spec)
		res, err := Apply(m, spec.Key, spec.Value, []Entry{entry(`1`, `9`), entry(`2`, `18446744073709551616`)},
			Options{Mode: Merge, Counter: newCounter(t)})
		if err != nil {
			t.Fatal(err)
		}
		want(t, res, 1, 1, 1)
		wantFailure(t, res, 1, "value: 18446744073709551616 is out of range for a 8-byte integer [0, 18446744073709551615]")
		onEveryCPU(t, m, 1, uint64(9))
	})
}

// TestApplyPerCPUArray writes a per-CPU array: every CPU holds the value
// of an index written; an exact policy zeroes, on every CPU, an index it
// does not list (a copy of one CPU non-zero is enough to be cleared);
// Remove zeroes on every CPU; the array counts as full.
func TestApplyPerCPUArray(t *testing.T) {
	testkernel.Require(t)
	spec := perCPUSpec(t, "weight", 4)
	m := newMap(t, spec)
	res := mustApply(t, m, spec, Merge, false, entry(`0`, `3`), entry(`2`, `9`), entry(`1`, `"0x0102"`), entry(`4`, `1`))
	want(t, res, 2, 2, 4)
	wantFailure(t, res, 2, "value: want 4 bytes, got 0x0102 (2 bytes)")
	wantFailure(t, res, 3, "key: index 4 is out of the array's range [0, 3]")
	res = mustApply(t, m, spec, Merge, false, entry(`1`, `4294967296`))
	wantFailure(t, res, 0, "value: 4294967296 is out of range for a 4-byte integer [0, 4294967295]")
	onEveryCPU(t, m, 0, uint32(3))
	onEveryCPU(t, m, 2, uint32(9))

	lastCPU := make([]uint32, possibleCPUs(t))
	lastCPU[len(lastCPU)-1] = 5
	if err := m.Put(uint32(3), lastCPU); err != nil {
		t.Fatal(err)
	}
	res = mustApply(t, m, spec, Exact, false, entry(`2`, `8`))
	want(t, res, 1, 0, 4)
	for i, v := range []uint32{0, 0, 8, 0} {
		onEveryCPU(t, m, uint32(i), v)
	}
	if n, err := Remove(m, spec.Key, []json.RawMessage{[]byte(`2`)}); n != 1 || err != nil {
		t.Fatalf("Remove = %d, %v", n, err)
	}
	onEveryCPU(t, m, 2, uint32(0))
}

func possibleCPUs(tb testing.TB) int {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestPerCPUWeightReachesEveryCPU runs the per-CPU counter on every CPU
// after writing its weight with Apply: on each CPU, the calls it counted
// were weighted by the value written, so the value reached that CPU's
// copy, where the program reads it.
func TestPerCPUWeightReachesEveryCPU(t *testing.T) {
	testkernel.Require(t)
	coll := testkernel.PerCPUCounter(t)
	weight := testkernel.MapSpecOf(t, bpf.PerCPUCounter, "weight")
	if _, err := Apply(coll.Maps["weight"], weight.Key, weight.Value, []Entry{entry(`0`, `3`)}, Options{}); err != nil {
		t.Fatal(err)
	}
	cpus := testkernel.CPUs(t)
	for i, cpu := range cpus {
		testkernel.Getppid(t, cpu, 10*(i+1))
	}
	var got []stats
	if err := coll.Maps["stats"].Lookup(testkernel.PidKey(), &got); err != nil {
		t.Fatal(err)
	}
	for i, cpu := range cpus {
		calls := uint64(10 * (i + 1))
		if got[cpu] != (stats{calls, 3 * calls}) {
			t.Errorf("CPU %d counted %+v, want %d calls weighted by 3: %+v", cpu, got[cpu], calls, got)
		}
	}
}

// TestPerCPURollback rolls an atomic write of a per-CPU hash back: each
// CPU gets its own value back, not one CPU's value on all.
func TestPerCPURollback(t *testing.T) {
	testkernel.Require(t)
	spec := perCPUSpec(t, "stats", 16)
	m := newMap(t, spec)
	own := make([]stats, possibleCPUs(t))
	for cpu := range own {
		own[cpu] = stats{Calls: uint64(cpu + 1)}
	}
	if err := m.Put(uint32(1), own); err != nil {
		t.Fatal(err)
	}
	w := testWriter(t, m)
	w.atomic = true
	p := plan(m, spec.Key, spec.Value, []Entry{entry(`1`, `{"calls": 10}`), entry(`3`, `{"calls": 30}`)})
	defer p.release()
	if applied, failed, _, err := w.apply(p, Options{Mode: Exact}, spec.Key); applied != 2 || len(failed) != 0 || err != nil {
		t.Fatalf("apply = %d, %v, %v", applied, failed, err)
	}
	onEveryCPU(t, m, 1, stats{Calls: 10})
	if err := w.rollback(nil); err != nil {
		t.Fatal(err)
	}
	var got []stats
	if err := m.Lookup(uint32(1), &got); err != nil || fmt.Sprint(got) != fmt.Sprint(own) {
		t.Fatalf("key 1 after the rollback holds %+v, %v; want each CPU's own %+v", got, err, own)
	}
	absent(t, m, 3)
}

// TestPerCPUOneByOne writes an LRU per-CPU hash one entry at a time, the
// path of kernels without batch operations.
func TestPerCPUOneByOne(t *testing.T) {
	testkernel.Require(t)
	spec := perCPUSpec(t, "seen", 16)
	m := newMap(t, spec)
	w := testWriter(t, m)
	w.each = true
	res, err := apply(w, spec.Key, spec.Value, []Entry{entry(`1`, `4`), entry(`2`, `5`)}, Options{Mode: Merge})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, 2, 0, 2)
	onEveryCPU(t, m, 1, uint64(4))
	onEveryCPU(t, m, 2, uint64(5))
}

// TestPerCPULongList writes more entries into a per-CPU hash than one
// batch call takes (see spreader): every entry is on every CPU, and the
// one the kernel refuses (the map is full: it held another key) is
// reported by its index.
func TestPerCPULongList(t *testing.T) {
	testkernel.Require(t)
	const n = 40000
	spec := perCPUSpec(t, "stats", n)
	m := newMap(t, spec)
	if per := testWriter(t, m).spread.batch(int(spec.ValueSize), n); per >= n {
		t.Fatalf("one batch call takes %d entries: the list must be longer", per)
	}
	if err := m.Put(uint32(1<<30), []stats{{Calls: 1}}); err != nil {
		t.Fatal(err)
	}
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = entry(fmt.Sprint(i), fmt.Sprintf(`{"calls": %d}`, i))
	}
	res, err := Apply(m, spec.Key, spec.Value, entries, Options{Mode: Merge})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, n-1, 1, n)
	if f := res.Failed[0]; f.Index != n-1 || !errors.Is(f.Err, ErrMapFull) {
		t.Fatalf("failure %v, want entry %d: map full", f, n-1)
	}
	for _, i := range []uint32{0, 1, n / 2, n - 2} {
		onEveryCPU(t, m, i, stats{Calls: uint64(i)})
	}
}
