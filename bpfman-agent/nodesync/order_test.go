package nodesync

import (
	"context"
	"slices"
	"strings"
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A program of an application ordered before a TcxProgram runs before it
// on the hook, from the first pass, whichever of the two the node's set
// lists first; the application's other programs run with it. On a kernel
// without TCX, both are Unsupported.
func TestApplicationOrderedBeforeTcxProgram(t *testing.T) {
	testkernel.Require(t)
	r, obj := appReconciler(t)
	host, _, _, _ := testkernel.VethPair(t)
	app := bpfleetv1.NodeProgram{UID: "app", Kind: "ClusterBpfApplication", Name: "app", Path: obj,
		Programs: []bpfleetv1.ProgramAttachment{
			{Name: "count_openat", Attach: tracepointAt("syscalls/sys_enter_openat")},
			{Name: "tc_ingress", Attach: tcxOn(host, &bpfleetv1.TCXOrder{Before: "plain"})},
		}}
	plain := bpfleetv1.NodeProgram{UID: "plain", Kind: "TcxProgram", Name: "plain", Path: obj,
		ProgramName: "tc_egress", Attach: tcxOn(host, nil)}
	statuses, _, err := r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app, plain})
	if unsupportedWithoutTCX(t, r, statuses...) {
		return // the application too, rather than waiting for the TcxProgram for good
	}
	if err != nil || statuses[0].State != bpfleetv1.StateReady || statuses[1].State != bpfleetv1.StateReady {
		t.Fatalf("first pass: application %+v, TcxProgram %+v, %v; want both Ready", statuses[0], statuses[1], err)
	}
	want := []uint32{statuses[0].Programs[1].Links[0].LinkID, statuses[1].Objects.Links[0].LinkID}
	if got, err := attach.TCXOrder(host, "ingress"); err != nil || !slices.Equal(got, want) {
		t.Errorf("TCX ingress chain of %s: %v, %v; want the application's link, then the TcxProgram's: %v", host, got, err, want)
	}
}

// A TcxProgram's order names a TcxProgram: a name that no TcxProgram on
// the node has (an application's, say) waits, and says so (on a kernel
// with TCX).
func TestTcxProgramOrderedBeforeAnApplication(t *testing.T) {
	testkernel.Require(t)
	r, obj := appReconciler(t)
	host, _, _, _ := testkernel.VethPair(t)
	app := bpfleetv1.NodeProgram{UID: "app", Kind: "ClusterBpfApplication", Name: "app", Path: obj,
		Programs: []bpfleetv1.ProgramAttachment{{Name: "tc_ingress", Attach: tcxOn(host, nil)}}}
	plain := bpfleetv1.NodeProgram{UID: "plain", Kind: "TcxProgram", Name: "plain", Path: obj,
		ProgramName: "tc_egress", Attach: tcxOn(host, &bpfleetv1.TCXOrder{Before: "app"})}
	statuses, _, _ := r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app, plain})
	if unsupportedWithoutTCX(t, r, statuses...) {
		return
	}
	st := statuses[1]
	if st.State != bpfleetv1.StatePending || !strings.Contains(st.Message, "no TcxProgram app") || !strings.Contains(st.Message, "application") {
		t.Errorf("TcxProgram ordered before application app: %+v, want Pending saying no TcxProgram app is scheduled here and that an application's program cannot be named", st)
	}
}

// A program of an application ordered before a TcxProgram the node does
// not run waits, saying so, also where the node runs no single program:
// a pass tries it once, not again for nothing (one load failure counted
// at most).
func TestApplicationOrderedBeforeAnAbsentTcxProgram(t *testing.T) {
	testkernel.Require(t)
	r, obj := appReconciler(t)
	host, _, _, _ := testkernel.VethPair(t)
	app := bpfleetv1.NodeProgram{UID: "app", Kind: "ClusterBpfApplication", Name: "app", Path: obj,
		Programs: []bpfleetv1.ProgramAttachment{{Name: "tc_ingress", Attach: tcxOn(host, &bpfleetv1.TCXOrder{Before: "gone"})}}}
	statuses, _, _ := r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app})
	if unsupportedWithoutTCX(t, r, statuses...) {
		return
	}
	if st := statuses[0]; st.State != bpfleetv1.StatePending || !strings.Contains(st.Message, "no TcxProgram gone is scheduled on this node") {
		t.Errorf("application ordered before an absent TcxProgram: %+v, want Pending saying it is not scheduled here", st)
	}
}

// unsupportedWithoutTCX reports whether the agent's probe found no TCX
// (Debian's 6.1), having checked that each of statuses then says
// Unsupported, and why: an order cannot wait for a hook the kernel lacks.
func unsupportedWithoutTCX(t *testing.T, r *Reconciler, statuses ...bpfleetv1.NodeProgramStatus) bool {
	t.Helper()
	why := r.Kernel.Hooks[bpfleetv1.HookTCX]
	if why == "" {
		return false
	}
	for _, st := range statuses {
		if st.State != bpfleetv1.StateUnsupported || !strings.Contains(st.Message, why) {
			t.Errorf("%s on a kernel without TCX: %+v, want Unsupported saying %q", st.UID, st, why)
		}
	}
	return true
}

// tcxOn attaches to the ingress TCX hook of iface, at order o.
func tcxOn(iface string, o *bpfleetv1.TCXOrder) bpfleetv1.AttachPoint {
	return bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, bpfleetv1.TCXAttach{
		Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(iface)}},
		Direction:  bpfleetv1.TCXIngress, Order: o,
	})
}
