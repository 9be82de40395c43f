package maps

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkApply writes 1, 1,000 and 100,000 blocklist entries (JSON, as
// from the API) into a hash map of 131072, in batches and one by one, and
// reports it against the kernel write alone of the same entries.
func BenchmarkApply(b *testing.B) {
	testkernel.Require(b)
	spec := blocklistSpec(b).Copy()
	spec.MaxEntries = 131072
	for _, n := range []int{1, 1000, 100000} {
		entries := blocklistEntries(n)
		for _, mode := range []string{"batch", "per-entry"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				m := newMap(b, spec)
				w := &writer{m: m, each: mode == "per-entry"}
				for b.Loop() {
					if res, err := apply(w, spec.Key, spec.Value, entries, Options{Mode: Merge}); err != nil || res.Applied != n {
						b.Fatalf("apply: %d applied, %v, %v", res.Applied, res.Failed, err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
				reportKernel(b, w, spec, entries)
			})
		}
	}
}

func blocklistEntries(n int) []Entry {
	entries := make([]Entry, n)
	for i := range entries {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], 10<<24|uint32(i))
		entries[i] = entry(fmt.Sprintf(`{"addr": %q}`, netip.AddrFrom4(a)), `{"drops": 0}`)
	}
	return entries
}

// reportKernel times, after Apply's loop and as many times, the kernel
// write of the same entries encoded once (BenchmarkWrite's loop), and
// reports Apply beside it: apply-ms/op, kernel-ms/op and their ratio.
func reportKernel(b *testing.B, w *writer, spec *ebpf.MapSpec, entries []Entry) {
	apply := b.Elapsed()
	p := plan(w.m, spec.Key, spec.Value, entries)
	start := time.Now()
	for range b.N {
		if failed := w.update(p.keys, p.values, p.index); len(failed) > 0 {
			b.Fatalf("write: %v", failed)
		}
	}
	kernel := time.Since(start)
	b.ReportMetric(apply.Seconds()*1000/float64(b.N), "apply-ms/op")
	b.ReportMetric(kernel.Seconds()*1000/float64(b.N), "kernel-ms/op")
	b.ReportMetric(float64(apply)/float64(kernel), "apply/kernel")
}

// BenchmarkWrite is the kernel half of BenchmarkApply alone: the entries
// are encoded once, and only the writes are timed.
func BenchmarkWrite(b *testing.B) {
	testkernel.Require(b)
	spec := blocklistSpec(b).Copy()
	spec.MaxEntries = 131072
	for _, n := range []int{1, 1000, 100000} {
		for _, mode := range []string{"batch", "per-entry"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				m := newMap(b, spec)
				p := plan(m, spec.Key, spec.Value, blocklistEntries(n))
				w := &writer{m: m, each: mode == "per-entry"}
				for b.Loop() {
					if failed := w.update(p.keys, p.values, p.index); len(failed) > 0 {
						b.Fatalf("write: %v", failed)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}
