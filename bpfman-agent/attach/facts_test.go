package attach

import (
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Lazy facts read the node only for a hook that plans from it: a pass of
// tracepoints reads no interface, route or mount; an XDP program's plan
// reads them once.
func TestLazyFactsReadTheNodeOnlyWhenAHookNeedsIt(t *testing.T) {
	facts := LazyFacts()
	tp, _ := Lookup(bpfleetv1.HookTracepoint)
	if _, err := tp.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}), facts); err != nil {
		t.Fatal(err)
	}
	if !facts.unread {
		t.Fatal("planning a tracepoint read the node's interfaces")
	}
	xdp, _ := Lookup(bpfleetv1.HookXDP)
	pl, err := xdp.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookXDP, bpfleetv1.XDPAttach{
		Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"lo"}}}), facts)
	if err != nil {
		t.Fatal(err)
	}
	if facts.unread || facts.IfErr != nil || len(pl.Targets) != 1 || pl.Targets["lo"] == nil {
		t.Errorf("an XDP plan on lo from lazy facts: %+v (facts %+v)", pl, facts)
	}
}
