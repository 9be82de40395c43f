package maps

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkApply writes 1, 1,000 and 100,000 blocklist entries (JSON, as
// from the API) into a hash map of 131072, in batches and one by one,
// and into a per-CPU hash map of the same key and value (percpu-batch:
// each value to every CPU). Each iteration also times the kernel's write
// of the same entries, encoded beforehand (the batch or per-entry calls
// alone, as BenchmarkWrite does; for the per-CPU map, one batch call
// given every CPU's value, as a cilium/ebpf program writes it), and
// reports Apply's time as a multiple of it (apply/kernel), both measured
// in the same run; cpu-apply/cpu-kernel is the same ratio in the
// process's CPU time (user and system, GC included), which other work on
// a shared machine inflates less. Apply counts the map after the write
// with a Counter, as the agent does.
func BenchmarkApply(b *testing.B) {
	testkernel.Require(b)
	spec := blocklistSpec(b).Copy()
	spec.MaxEntries = 131072
	counter := benchCounter(b)
	perCPUSpec := spec.Copy()
	perCPUSpec.Type = ebpf.PerCPUHash
	for _, n := range []int{1, 1000, 100000} {
		entries := blocklistEntries(n)
		for _, mode := range []string{"batch", "per-entry", "percpu-batch"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				spec := spec
				if mode == "percpu-batch" {
					spec = perCPUSpec
				}
				m := newMap(b, spec)
				w := testWriter(b, m)
				w.each, w.counter = mode == "per-entry", counter
				p := plan(m, spec.Key, spec.Value, entries)
				write := kernelWrite(b, w, p)
				var apply, kernel clock
				for b.Loop() {
					apply.add(b, func() error { return applyAll(w, spec, entries) })
					kernel.add(b, write)
				}
				apply.report(b, "apply")
				kernel.report(b, "kernel")
				b.ReportMetric(float64(apply.wall)/float64(kernel.wall), "apply/kernel")
				b.ReportMetric(float64(apply.cpu)/float64(kernel.cpu), "cpu-apply/cpu-kernel")
				b.ReportMetric(float64(n*b.N)/apply.wall.Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkApplyRewrite writes 100,000 blocklist entries over the same
// ones, with the keys written before as Previous, as the agent writes a
// policy's new generation (Previous is its ledger), against the kernel's
// write of the same entries, in the same run.
func BenchmarkApplyRewrite(b *testing.B) {
	testkernel.Require(b)
	spec := blocklistSpec(b).Copy()
	spec.MaxEntries = 131072
	entries := blocklistEntries(100000)
	previous := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		previous[i] = e.Key
	}
	m := newMap(b, spec)
	w := testWriter(b, m)
	w.counter = benchCounter(b)
	p := plan(m, spec.Key, spec.Value, entries)
	var rewrite, kernel clock
	for b.Loop() {
		rewrite.add(b, func() error {
			_, err := apply(w, spec.Key, spec.Value, entries, Options{Mode: Merge, Previous: previous})
			return err
		})
		kernel.add(b, func() error { return writeAll(w, p) })
	}
	b.ReportMetric(float64(rewrite.wall)/float64(kernel.wall), "apply/kernel")
	b.ReportMetric(float64(rewrite.cpu)/float64(kernel.cpu), "cpu-apply/cpu-kernel")
}

// benchCounter is a Counter closed after the benchmark, or nil where the
// kernel keeps no count (Apply then reads the map to count it).
func benchCounter(b *testing.B) *Counter {
	c, err := NewCounter()
	if err != nil {
		b.Logf("%v: Apply reads the map to count its entries", err)
		return nil
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// clock adds up the wall and process CPU time of calls.
type clock struct{ wall, cpu time.Duration }

func (c *clock) add(b *testing.B, fn func() error) {
	start, cpu := time.Now(), processCPU(b)
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	c.wall += time.Since(start)
	c.cpu += processCPU(b) - cpu
}

// report reports the mean wall and CPU times of a call, as name-ms/op
// and cpu-name-ms/op.
func (c *clock) report(b *testing.B, name string) {
	b.ReportMetric(float64(c.wall.Microseconds())/1000/float64(b.N), name+"-ms/op")
	b.ReportMetric(float64(c.cpu.Microseconds())/1000/float64(b.N), "cpu-"+name+"-ms/op")
}

func processCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

func applyAll(w *writer, spec *ebpf.MapSpec, entries []Entry) error {
	res, err := apply(w, spec.Key, spec.Value, entries, Options{Mode: Merge})
	if err == nil && res.Applied != len(entries) {
		err = fmt.Errorf("apply: %d applied, %v", res.Applied, res.Failed)
	}
	return err
}

// kernelWrite is the kernel's write of p's entries into w's map: w's
// calls, or for a per-CPU map one batch call given every CPU's value,
// laid out beforehand.
func kernelWrite(b *testing.B, w *writer, p batch) func() error {
	if !perCPU(w.m.Type()) {
		return func() error { return writeAll(w, p) }
	}
	cpus := possibleCPUs(b)
	values := make([][]byte, 0, p.values.len()*cpus)
	for i := range p.values.len() {
		for range cpus {
			values = append(values, p.values.at(i))
		}
	}
	return func() error {
		_, err := w.m.BatchUpdate(p.keys.from(0), values, nil)
		return err
	}
}

func writeAll(w *writer, p batch) error {
	if failed := w.update(p.keys, p.values, p.index); len(failed) > 0 {
		return fmt.Errorf("write: %v", failed)
	}
	return nil
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
				w := testWriter(b, m)
				w.each = mode == "per-entry"
				for b.Loop() {
					if err := writeAll(w, p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkPlan is Apply's work before its first kernel call: encoding
// and checking 100,000 blocklist entries.
func BenchmarkPlan(b *testing.B) {
	testkernel.Require(b)
	spec := blocklistSpec(b).Copy()
	spec.MaxEntries = 131072
	m := newMap(b, spec)
	entries := blocklistEntries(100000)
	b.ReportAllocs()
	for b.Loop() {
		p := plan(m, spec.Key, spec.Value, entries)
		if len(p.failed) > 0 {
			b.Fatal(p.failed)
		}
		p.release()
	}
}
