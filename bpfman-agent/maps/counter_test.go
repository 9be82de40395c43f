package maps

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// newCounter is a Counter closed when the test ends. A kernel before 6.6
// keeps no count: NewCounter must say so, and newCounter returns nil, the
// Counter the agent then runs with (it counts by iterating the map, as
// Usage does), so the tests check that path there.
func newCounter(tb testing.TB) *Counter {
	tb.Helper()
	testkernel.Require(tb)
	c, err := NewCounter()
	if !countingKernel(tb) {
		if err == nil {
			c.Close()
			tb.Fatal("NewCounter succeeded on a kernel before 6.6, which keeps no entry count")
		}
		tb.Logf("kernel before 6.6 keeps no entry count (NewCounter: %v): the nil Counter reads the map instead", err)
		return nil
	}
	if err != nil {
		tb.Fatalf("NewCounter on kernel 6.6+: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Error(err)
		}
	})
	return c
}

func countingKernel(tb testing.TB) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		tb.Fatal(err)
	}
	v := strings.SplitN(unix.ByteSliceToString(u.Release[:]), ".", 3)
	major, _ := strconv.Atoi(v[0])
	minor, _ := strconv.Atoi(v[1])
	return major > 6 || major == 6 && minor >= 6
}

// TestCounterMatchesTheMap writes the hash maps (plain, LRU, and their
// per-CPU kinds) through Apply with a Counter: new keys, overwritten keys, keys a merge policy
// stops listing, keys a program adds and removes, an exact policy. After
// each, the count Apply reports and the Counter's must be the number of
// keys the kernel gives when the map is iterated.
func TestCounterMatchesTheMap(t *testing.T) {
	c := newCounter(t)
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := newMap(t, &ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
			check := func(step string, res Result) {
				t.Helper()
				want := iterated(t, m)
				if res.Entries != want {
					t.Errorf("%s: Apply reports %d entries, iterating the map finds %d", step, res.Entries, want)
				}
				if got, _, err := c.Usage(m); err != nil || got != want {
					t.Errorf("%s: Counter.Usage = %d, %v; iterating the map finds %d", step, got, err, want)
				}
			}
			merge := func(keys []json.RawMessage, previous []json.RawMessage) Result {
				return applyKeys(t, m, keys, Options{Mode: Merge, Previous: previous, Counter: c})
			}
			first := numbered(0, 100)
			check("100 new keys", merge(first, nil))
			check("the same keys again", merge(first, first))
			check("50 kept, 50 new, 50 no longer listed", merge(numbered(50, 150), first))
			var one any = uint64(1)
			if perCPU(typ) {
				one = []uint64{1}
			}
			if err := m.Put(uint32(5000), one); err != nil {
				t.Fatal(err)
			}
			if err := m.Delete(uint32(60)); err != nil {
				t.Fatal(err)
			}
			check("a key added and one removed by a program", merge(numbered(100, 150), numbered(50, 150)))
			check("exact", applyKeys(t, m, numbered(0, 10), Options{Mode: Exact, Counter: c}))
		})
	}
}

// TestCounterCountsEveryHash checks the Counter on per-CPU hash maps a
// program fills, on a hash map allocated as it fills
// (BPF_F_NO_PREALLOC), and on LRU maps that evicted keys: a program
// writes 300 keys and deletes 100.
func TestCounterCountsEveryHash(t *testing.T) {
	c := newCounter(t)
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []ebpf.MapSpec{
		{Type: ebpf.PerCPUHash, MaxEntries: 1024}, {Type: ebpf.LRUCPUHash, MaxEntries: 1024},
		{Type: ebpf.Hash, MaxEntries: 1024, Flags: unix.BPF_F_NO_PREALLOC},
		{Type: ebpf.LRUHash, MaxEntries: 128}, {Type: ebpf.LRUCPUHash, MaxEntries: 128},
	} {
		t.Run(fmt.Sprintf("%s/%d", spec.Type, spec.MaxEntries), func(t *testing.T) {
			spec.KeySize, spec.ValueSize = 4, 8
			m := newMap(t, &spec)
			var value any = uint64(0)
			if perCPU(spec.Type) {
				value = make([]uint64, cpus)
			}
			for k := range uint32(300) {
				if err := m.Put(k, value); err != nil {
					t.Fatal(err)
				}
			}
			for k := range uint32(100) {
				if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
					t.Fatal(err)
				}
			}
			want := iterated(t, m)
			if got, _, err := c.Usage(m); err != nil || got != want || want == 0 {
				t.Errorf("Counter.Usage = %d, %v; iterating the map finds %d", got, err, want)
			}
		})
	}
}

// numbered are the keys from..to-1, as JSON numbers.
func numbered(from, to int) []json.RawMessage {
	var keys []json.RawMessage
	for i := from; i < to; i++ {
		keys = append(keys, json.RawMessage(strconv.Itoa(i)))
	}
	return keys
}

// applyKeys applies keys, each with the value 7, to m (no BTF).
func applyKeys(tb testing.TB, m *ebpf.Map, keys []json.RawMessage, opts Options) Result {
	tb.Helper()
	entries := make([]Entry, len(keys))
	for i, k := range keys {
		entries[i] = Entry{Key: k, Value: json.RawMessage("7")}
	}
	res, err := Apply(m, nil, nil, entries, opts)
	if err != nil || len(res.Failed) > 0 {
		tb.Fatalf("Apply: %v %v", err, res.Failed)
	}
	return res
}

// iterated counts the keys of m (__u32 -> __u64) one by one, as bpftool
// map dump does.
func iterated(tb testing.TB, m *ebpf.Map) int {
	tb.Helper()
	var key uint32
	var value any = new(uint64)
	if perCPU(m.Type()) {
		value = new([]uint64)
	}
	var n int
	it := m.Iterate()
	for it.Next(&key, value) {
		n++
	}
	if err := it.Err(); err != nil {
		tb.Fatal(fmt.Errorf("iterate: %w", err))
	}
	return n
}

func BenchmarkCounter(b *testing.B) {
	m := bigHash(b, 100000)
	c := newCounter(b)
	for b.Loop() {
		if n, _, err := c.Usage(m); err != nil || n != 100000 {
			b.Fatal(n, err)
		}
	}
}
