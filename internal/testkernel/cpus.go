package testkernel

import (
	"bytes"
	"os"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/bpf"
)

// CPUs lists the CPUs this process may run on. With fewer than two, a
// test of per-CPU values proves less (no two copies differ): it says so in
// the test's log.
func CPUs(tb testing.TB) []int {
	tb.Helper()
	possible, err := ebpf.PossibleCPU()
	if err != nil {
		tb.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		tb.Fatalf("sched_getaffinity: %v", err)
	}
	var out []int
	for cpu := range possible {
		if set.IsSet(cpu) {
			out = append(out, cpu)
		}
	}
	if len(out) < 2 {
		tb.Logf("NOTE: the process may run on CPUs %v only: per-CPU copies are not told apart", out)
	}
	return out
}

// OnCPU runs fn on one OS thread pinned to cpu, and waits for it.
func OnCPU(tb testing.TB, cpu int, fn func()) {
	tb.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread is left locked: it exits with the goroutine rather
		// than run other goroutines with its narrowed affinity.
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		tb.Fatalf("pin to CPU %d: %v", cpu, err)
	}
}

// Getppid makes n getppid calls on cpu, the events bpf.PerCPUCounter
// counts.
func Getppid(tb testing.TB, cpu, n int) {
	tb.Helper()
	OnCPU(tb, cpu, func() {
		for range n {
			unix.Getppid()
		}
	})
}

// PerCPUCounter loads bpf.PerCPUCounter counting this process only and
// attaches it, both closed when the test ends.
func PerCPUCounter(tb testing.TB) *ebpf.Collection {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.PerCPUCounter))
	if err != nil {
		tb.Fatal(err)
	}
	if err := spec.Variables["filter_pid"].Set(uint32(os.Getpid())); err != nil {
		tb.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(coll.Close)
	l, err := link.Tracepoint("syscalls", "sys_enter_getppid", coll.Programs["count_getppid"], nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return coll
}

// PidKey is this process's tgid as bpf.PerCPUCounter keys it.
func PidKey() uint32 { return uint32(os.Getpid()) }
