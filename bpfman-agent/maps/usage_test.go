package maps

import (
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
)

// bigHash is a hash map of n __u32 -> __u64 entries, filled in batches.
func bigHash(tb testing.TB, n int) *ebpf.Map {
	tb.Helper()
	m := newMap(tb, &ebpf.MapSpec{Name: "big", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: uint32(n)})
	keys, values := newRows(4, chunk), newRows(8, chunk)
	for off := 0; off < n; off += chunk {
		k := min(chunk, n-off)
		for i := range k {
			putU32(keys.at(i), uint32(off+i))
			putU32(values.at(i), uint32(i))
		}
		if _, err := m.BatchUpdate(keys.truncate(k).from(0), values.truncate(k).from(0), nil); err != nil {
			tb.Fatalf("fill: %v", err)
		}
	}
	return m
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// TestUsageOfAMillionEntries counts a 1M-entry hash map, and checks that
// counting it does not copy it: a 16M-entry map must not cost the agent
// its memory.
func TestUsageOfAMillionEntries(t *testing.T) {
	const n = 1 << 20
	m := bigHash(t, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, max, err := Usage(m)
	runtime.ReadMemStats(&after)
	if err != nil || got != n || max != n {
		t.Fatalf("Usage = %d, %d, %v; want %d, %d", got, max, err, n, n)
	}
	const bound = 1 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Errorf("counting %d entries allocated %d bytes, want at most %d: Usage copies the map", n, alloc, bound)
	}
}

// BenchmarkUsage counts a 1M-entry hash map.
func BenchmarkUsage(b *testing.B) {
	const n = 1 << 20
	m := bigHash(b, n)
	b.ReportAllocs()
	for b.Loop() {
		if got, _, err := Usage(m); err != nil || got != n {
			b.Fatalf("Usage = %d, %v", got, err)
		}
	}
}
