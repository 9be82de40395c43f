package attach_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// tcxHere reports whether this kernel has TCX, as the agent's probe of
// the TCX hook says. Where it has none (Linux before 6.6, e.g. Debian's
// 6.1), it checks such a node's path instead, which the calling test
// then stands for: the probe's reason is definitive, and attaching to
// iface is refused as Unsupported (not an attach failure to retry).
func tcxHere(t *testing.T, iface string) bool {
	t.Helper()
	hook, err := attach.Lookup(bpfleetv1.HookTCX)
	must(t, err)
	probeErr := hook.Probe()
	if probeErr == nil {
		return true
	}
	if attach.Inconclusive(probeErr) {
		t.Fatalf("probe of TCX: %v; want a definitive reason", probeErr)
	}
	a, err := attach.TCX{Interface: iface, Direction: attach.Ingress}.Attach(program(t, ebpf.SchedCLS))
	if err == nil {
		a.Link.Close()
		t.Fatalf("attached a TCX link, but the probe said: %v", probeErr)
	}
	var unsupported *failure.Unsupported
	if !errors.As(err, &unsupported) {
		t.Fatalf("attach on a kernel without TCX: %v, want an *failure.Unsupported", err)
	}
	t.Logf("no TCX on this kernel (probe: %v): the attach is refused as Unsupported: %v", probeErr, err)
	return false
}

// TestTCXUnsupported checks, on a kernel without TCX, that attaching says
// so as Unsupported (the program's state on such a node); on a kernel
// with TCX, TestTCXCounts is the test.
func TestTCXUnsupported(t *testing.T) {
	testkernel.Require(t)
	host, _, _, _ := testkernel.VethPair(t)
	if tcxHere(t, host) {
		t.Log("this kernel has TCX: TestTCXCounts covers it")
	}
}

// TestTCXEgressConformance runs the life cycle on the egress hook too
// (TestConformance's case is ingress).
func TestTCXEgressConformance(t *testing.T) {
	testkernel.Require(t)
	host, _, _, _ := testkernel.VethPair(t)
	if !tcxHere(t, host) {
		return
	}
	testSpec(t, attach.TCX{Interface: host, Direction: attach.Egress})
}

// TestTCXCounts counts a ping's requests on ingress and its replies on
// egress of the host end of a veth; the chain goes on (TCX_NEXT), so the
// pings are answered.
func TestTCXCounts(t *testing.T) {
	testkernel.Require(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	if !tcxHere(t, host) {
		return
	}
	counts := map[string]*ebpf.Map{}
	for _, dir := range []string{attach.Ingress, attach.Egress} {
		objs := load(t, bpf.TCCounter, "tc_count", nil)
		spec := attach.TCX{Interface: host, Direction: dir}
		a, err := spec.Attach(objs.Program)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Link.Close()
		if want := dir + " position 1 of 1"; a.Detail != want {
			t.Errorf("detail %q, want %q", a.Detail, want)
		}
		counts[dir] = objs.Maps["packets"]
	}
	if got := testkernel.Ping(t, ns, hostIP, 4); got != 4 {
		t.Fatalf("%d of 4 pings answered", got)
	}
	for dir, m := range counts {
		if n := lookup(t, m, 0); n < 4 {
			t.Errorf("%s counted %d packets, want at least 4", dir, n)
		}
	}
}

// TestTCXOrder places four links on one hook: last, first, before the
// last and after the first, and reads the order back.
func TestTCXOrder(t *testing.T) {
	testkernel.Require(t)
	host, _, _, _ := testkernel.VethPair(t)
	if !tcxHere(t, host) {
		return
	}
	spec := func(o attach.Order) attach.TCX {
		return attach.TCX{Interface: host, Direction: attach.Ingress, Anchor: o}
	}
	last := attachTCX(t, spec(attach.Order{Last: true}))
	first := attachTCX(t, spec(attach.Order{First: true}))
	beforeLast := attachTCX(t, spec(attach.Order{BeforeLink: last}))
	afterFirst := attachTCX(t, spec(attach.Order{AfterLink: first}))

	order, err := attach.TCXOrder(host, attach.Ingress)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{first, afterFirst, beforeLast, last}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if _, err := attach.TCXOrder(host, "sideways"); err == nil {
		t.Error("TCXOrder accepted direction sideways")
	}
}

// attachTCX attaches a program to s, checks the position Detail reports
// and returns the link's ID.
func attachTCX(t *testing.T, s attach.TCX) uint32 {
	t.Helper()
	a, err := s.Attach(program(t, ebpf.SchedCLS))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Link.Close() })
	id := uint32(linkID(t, a.Link))
	order, err := attach.TCXOrder(s.Interface, s.Direction)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("ingress position %d of %d", slices.Index(order, id)+1, len(order))
	if a.Detail != want {
		t.Fatalf("%s: detail %q, want %q", s, a.Detail, want)
	}
	return id
}

func TestTCXInvalid(t *testing.T) {
	for _, s := range []attach.TCX{
		{Interface: "lo", Direction: "up"},
		{Interface: "", Direction: attach.Ingress},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: valid", s)
		}
	}
	testkernel.Require(t)
	if _, err := attach.TCXOrder("bpfnosuchif0", attach.Ingress); err == nil {
		t.Error("TCXOrder on a missing interface succeeded")
	}
}
