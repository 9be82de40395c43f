package programs_test

import (
	"bytes"
	"os"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkApplication measures an application of two programs of
// app_counter (TCX ingress on a veth, a tracepoint) made to run:
//
//   - raw: cilium/ebpf alone loads the two programs and their maps in one
//     load and attaches them (the baseline), then closes everything
//     outside the timer;
//   - create: Apply of a new application (load, pin, attach), then Remove
//     outside the timer;
//   - add: Apply of a new revision adding tc_egress to the running one
//     (load, carry, in-place update of tc_ingress, new links), alternating
//     with the revision without it.
func BenchmarkApplication(b *testing.B) {
	testkernel.Require(b)
	host, _, _, _ := testkernel.VethPair(b)
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			release := rawApplication(b, host)
			b.StopTimer()
			release()
			b.StartTimer()
		}
	})
	b.Run("create", func(b *testing.B) {
		m, _ := setup(b)
		for i := 0; b.Loop(); i++ {
			p := app("r1", host, "tc_ingress", "count_openat")
			p.UID = "uid-" + strconv.Itoa(i)
			apply(b, m, p)
			b.StopTimer()
			if err := m.Remove(p.UID); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("add", func(b *testing.B) {
		m, _ := setup(b)
		apply(b, m, app("r0", host, "tc_ingress", "count_openat"))
		for i := 1; b.Loop(); i++ {
			names := []string{"tc_ingress", "count_openat"}
			if i%2 == 1 {
				names = append(names, "tc_egress")
			}
			apply(b, m, app("r"+strconv.Itoa(i), host, names...))
		}
	})
}

// rawApplication loads and attaches what the benchmark's application
// runs with cilium/ebpf alone, and returns what releases it.
func rawApplication(b *testing.B, iface string) (release func()) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.AppCounter))
	if err != nil {
		b.Fatal(err)
	}
	if err := spec.Variables["filter_pid"].Set(uint32(os.Getpid())); err != nil {
		b.Fatal(err)
	}
	var objs struct {
		Ingress *ebpf.Program `ebpf:"tc_ingress"`
		Openat  *ebpf.Program `ebpf:"count_openat"`
		Events  *ebpf.Map     `ebpf:"events"`
	}
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		b.Fatal(err)
	}
	tp, err := link.Tracepoint("syscalls", "sys_enter_openat", objs.Openat, nil)
	if err != nil {
		b.Fatal(err)
	}
	tcx, err := attach.TCX{Interface: iface, Direction: attach.Ingress}.Attach(objs.Ingress)
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		tcx.Link.Close()
		tp.Close()
		objs.Ingress.Close()
		objs.Openat.Close()
		objs.Events.Close()
	}
}
