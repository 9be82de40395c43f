package testkernel

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpf"
)

// Flowmeter is the example application bpf.Flowmeter loaded and attached
// with cilium/ebpf alone: one collection, so its programs share its maps.
type Flowmeter struct {
	*ebpf.Collection
	links []link.Link
}

// FlowmeterSpec parses bpf.Flowmeter, keeping only the programs named
// (every program if none is: tcp_rcv among them, which needs a kernel
// that loads fentry programs).
func FlowmeterSpec(programs ...string) (*ebpf.CollectionSpec, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.Flowmeter))
	if err != nil {
		return nil, fmt.Errorf("read flowmeter.o: %w", err)
	}
	if len(programs) == 0 {
		return spec, nil
	}
	kept := map[string]*ebpf.ProgramSpec{}
	for _, name := range programs {
		if kept[name] = spec.Programs[name]; kept[name] == nil {
			return nil, fmt.Errorf("flowmeter.o has no program %q", name)
		}
	}
	spec.Programs = kept
	return spec, nil
}

// kernelTypes keeps the kernel's BTF parsed across loads, as the agent's
// loader does: CO-RE relocations (count_drops') need it.
var kernelTypes = btf.NewCache()

// LoadFlowmeter loads spec as one collection and attaches each of its
// programs to its hook: the TCX programs to the interface iface. Close
// detaches and unloads everything.
func LoadFlowmeter(spec *ebpf.CollectionSpec, iface string) (*Flowmeter, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Cache: kernelTypes})
	if err != nil {
		return nil, fmt.Errorf("load flowmeter: %w", err)
	}
	fm := &Flowmeter{Collection: coll}
	for name, ps := range spec.Programs {
		l, err := attachProgram(ps, coll.Programs[name], ifi.Index)
		if err != nil {
			fm.Close()
			return nil, fmt.Errorf("attach %s: %w", name, err)
		}
		fm.links = append(fm.links, l)
	}
	return fm, nil
}

// attachProgram attaches prog to the hook its section names.
func attachProgram(ps *ebpf.ProgramSpec, prog *ebpf.Program, ifindex int) (link.Link, error) {
	switch ps.Type {
	case ebpf.SchedCLS:
		return link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: ps.AttachType})
	case ebpf.TracePoint:
		_, event, _ := strings.Cut(ps.SectionName, "/")
		group, name, _ := strings.Cut(event, "/")
		return link.Tracepoint(group, name, prog, nil)
	case ebpf.Tracing:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	}
	return nil, fmt.Errorf("no hook for a %s program", ps.Type)
}

// Close detaches the programs and unloads the collection.
func (fm *Flowmeter) Close() {
	for _, l := range fm.links {
		l.Close()
	}
	fm.Collection.Close()
}

// AttachFlowmeter loads and attaches bpf.Flowmeter's programs named (all
// if none is), the TCX ones to iface, for the test's duration.
func AttachFlowmeter(tb testing.TB, iface string, programs ...string) *Flowmeter {
	tb.Helper()
	spec, err := FlowmeterSpec(programs...)
	if err != nil {
		tb.Fatal(err)
	}
	fm, err := LoadFlowmeter(spec, iface)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fm.Close)
	return fm
}

// TimeFlowmeter parses, loads and attaches bpf.Flowmeter's programs named
// (the TCX ones to iface) with cilium/ebpf alone, as the baseline of an
// application's create → Ready, and returns how long that took; it then
// detaches and unloads them. The kernel's BTF is parsed once per process
// (the first call pays it), as in the agent.
func TimeFlowmeter(tb testing.TB, iface string, programs ...string) time.Duration {
	tb.Helper()
	start := time.Now()
	spec, err := FlowmeterSpec(programs...)
	if err != nil {
		tb.Fatal(err)
	}
	fm, err := LoadFlowmeter(spec, iface)
	if err != nil {
		tb.Fatal(err)
	}
	elapsed := time.Since(start)
	fm.Close()
	return elapsed
}

// TimeTracepointCounter parses, loads and attaches the one-program
// tracepoint counter with cilium/ebpf alone, returns how long that took,
// and unloads it: the raw baseline of the benchmarks.
func TimeTracepointCounter(tb testing.TB) time.Duration {
	tb.Helper()
	start := time.Now()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.TracepointCounter))
	if err != nil {
		tb.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		tb.Fatal(err)
	}
	defer coll.Close()
	l, err := link.Tracepoint("syscalls", "sys_enter_openat", coll.Programs["count_openat"], nil)
	if err != nil {
		tb.Fatal(err)
	}
	elapsed := time.Since(start)
	l.Close()
	return elapsed
}
