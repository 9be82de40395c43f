package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func common(s *localstack.Stack, example, program string) bpfleetv1.ProgramCommon {
	return bpfleetv1.ProgramCommon{
		ProgramSource: bpfleetv1.ProgramSource{
			ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: s.Images[example]}},
		},
		ProgramName: program,
	}
}

// apply creates p, waits until it is Ready and returns the node's report;
// it deletes p when the test ends.
func apply(t *testing.T, s *localstack.Stack, p bpfleetv1.Program) bpfleetv1.NodeProgramStatus {
	t.Helper()
	if err := s.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, s.Client, p) })
	waitProgram(t, s.Client, p, "Ready=True", readyNow)
	return nodeEntry(t, s.Client, p.GetUID())
}

func deleteAndWait(t testing.TB, c client.Client, p bpfleetv1.Program) {
	t.Helper()
	if err := c.Delete(context.Background(), p); client.IgnoreNotFound(err) != nil {
		t.Errorf("delete %s: %v", p.GetName(), err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 60*time.Second, true,
		func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, client.ObjectKeyFromObject(p), p.DeepCopyObject().(client.Object))
			return apierrors.IsNotFound(err), nil
		})
	if err != nil {
		t.Errorf("%s was never deleted", p.GetName())
	}
}

func linkOn(t testing.TB, st bpfleetv1.NodeProgramStatus, target string) bpfleetv1.LinkStatus {
	t.Helper()
	for _, l := range st.Objects.Links {
		if l.Target == target {
			return l
		}
	}
	t.Fatalf("no link on %s in %+v", target, st.Objects.Links)
	return bpfleetv1.LinkStatus{}
}

func TestXDPCountsAndDropsWithoutAGap(t *testing.T) {
	s := startStack(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	x := &bpfleetv1.XdpProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "xdp-e2e"},
		Spec: bpfleetv1.XdpProgramSpec{
			ProgramCommon: common(s, "xdp-counter", "xdp_count"),
			XDP:           bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(host)}}},
		},
	}
	st := apply(t, s, x)
	l := linkOn(t, st, host)
	if !strings.Contains(l.Detail, "mode=") {
		t.Errorf("link detail %q does not say the XDP mode", l.Detail)
	}
	if got := testkernel.Ping(t, ns, hostIP, 3); got != 3 {
		t.Fatalf("%d of 3 pings answered through the counting program", got)
	}
	if n := testkernel.MapValue(t, st.Objects.MapIDs["packets"], uint32(0)); n < 3 {
		t.Fatalf("packets counter = %d after 3 pings", n)
	}

	base := x.DeepCopy()
	x.Spec.GlobalData = map[string]bpfleetv1.GlobalValue{"drop_icmp": "1"}
	if err := s.Client.Patch(context.Background(), x, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitProgram(t, s.Client, x, "Ready=True", readyNow)
	swapped := nodeEntry(t, s.Client, x.UID)
	if swapped.ProgramID == st.ProgramID || linkOn(t, swapped, host).LinkID != l.LinkID {
		t.Errorf("update: program %d→%d, link %d→%d; want a new program swapped into the same link",
			st.ProgramID, swapped.ProgramID, l.LinkID, linkOn(t, swapped, host).LinkID)
	}
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 0 {
		t.Fatalf("%d pings answered after drop_icmp=1", got)
	}
}

func TestInterfaceAppearingLaterIsAttached(t *testing.T) {
	s := startStack(t)
	name := fmt.Sprintf("bpfl%d", os.Getpid()%100000)
	x := xdpProgram(s, "xdp-later", "xdp-counter", "xdp_count", name)
	st := apply(t, s, x)
	if len(st.Objects.Links) != 0 || !strings.Contains(st.Message, name) {
		t.Fatalf("before %s exists: links %+v, message %q; want none and a message naming it", name, st.Objects.Links, st.Message)
	}
	if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", name+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	waitProgram(t, s.Client, x, "attached to "+name, func(bpfleetv1.Program) bool {
		for _, l := range nodeEntry(t, s.Client, x.UID).Objects.Links {
			if l.Target == name && l.LinkID != 0 {
				return true
			}
		}
		return false
	})
}

func tcx(s *localstack.Stack, name, iface string, dir bpfleetv1.TCXDirection, order *bpfleetv1.TCXOrder) *bpfleetv1.TcxProgram {
	return &bpfleetv1.TcxProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.TcxProgramSpec{
			ProgramCommon: common(s, "tc-counter", "tc_count"),
			TCX: bpfleetv1.TCXAttach{
				Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(iface)}},
				Direction:  dir, Order: order,
			},
		},
	}
}

func TestTCXOrderedOnOneHook(t *testing.T) {
	s := startStack(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	first := apply(t, s, tcx(s, "tcx-first", host, bpfleetv1.TCXIngress, &bpfleetv1.TCXOrder{First: true}))
	second := apply(t, s, tcx(s, "tcx-second", host, bpfleetv1.TCXIngress, &bpfleetv1.TCXOrder{After: "tcx-first"}))
	egress := apply(t, s, tcx(s, "tcx-egress", host, bpfleetv1.TCXEgress, nil))
	order, err := attach.TCXOrder(host, "ingress")
	if err != nil {
		t.Fatal(err)
	}
	if d := linkOn(t, second, host).Detail; !strings.Contains(d, "position 2 of 2") {
		t.Errorf("tcx-second's status says %q, want its position (2 of 2)", d)
	}
	want := []uint32{linkOn(t, first, host).LinkID, linkOn(t, second, host).LinkID}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("kernel ingress order %v, want %v (tcx-first, then tcx-second)", order, want)
	}
	testkernel.Ping(t, ns, hostIP, 2)
	for _, st := range []bpfleetv1.NodeProgramStatus{first, second, egress} {
		if n := testkernel.MapValue(t, st.Objects.MapIDs["packets"], uint32(0)); n == 0 {
			t.Errorf("program %s counted no packets", st.UID)
		}
	}
}

func TestUprobeCountsCalls(t *testing.T) {
	s := startStack(t)
	path, run := testkernel.TargetBinary(t)
	u := &bpfleetv1.UprobeProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "uprobe-e2e"},
		Spec: bpfleetv1.UprobeProgramSpec{
			ProgramCommon: common(s, "uprobe-counter", "count_calls"),
			Uprobe:        bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: path, Function: "bpfleet_target"}},
		},
	}
	st := apply(t, s, u)
	run(7)
	if n := testkernel.MapValue(t, st.Objects.MapIDs["calls"], uint32(0)); n != 7 {
		t.Fatalf("calls counter = %d after 7 calls", n)
	}
}

// TestKernelHookKinds runs a program of each kind whose hook a kernel may
// lack (kprobe, fentry, fexit, LSM, TCX) through the whole system. Where
// the agent's probe finds the hook, the program goes Ready on the node
// and its map counts real events (subtest Ready); where it does not, the
// node reports that in its capabilities, the operator does not send the
// program, and it is Ready with the node counted unsupported (subtest
// Unsupported). This VM's kernel lacks the first four; Debian's 6.1 in
// qemu (hack/vmkernel) lacks TCX, its 6.12 none.
func TestKernelHookKinds(t *testing.T) {
	s := startStack(t)
	openFiles := func(t *testing.T) { testkernel.OpenFiles(t, 5) }
	for _, tc := range []struct {
		hook    string
		program func(t *testing.T) (bpfleetv1.Program, func(t *testing.T))
		counter string
		key     uint32
	}{
		{bpfleetv1.HookKprobe, func(*testing.T) (bpfleetv1.Program, func(*testing.T)) {
			return &bpfleetv1.KprobeProgram{ObjectMeta: metav1.ObjectMeta{Name: "kprobe-e2e"}, Spec: bpfleetv1.KprobeProgramSpec{
				ProgramCommon: common(s, "kprobe-counter", "kprobe_openat"), Kprobe: bpfleetv1.KprobeAttach{Function: "do_sys_openat2"}}}, openFiles
		}, "calls", 0},
		{bpfleetv1.HookFentry, func(*testing.T) (bpfleetv1.Program, func(*testing.T)) {
			return &bpfleetv1.FentryProgram{ObjectMeta: metav1.ObjectMeta{Name: "fentry-e2e"}, Spec: bpfleetv1.FentryProgramSpec{
				ProgramCommon: common(s, "fentry-counter", "fentry_openat"), Fentry: bpfleetv1.FentryAttach{Function: "do_sys_openat2"}}}, openFiles
		}, "calls", 0},
		{bpfleetv1.HookFexit, func(*testing.T) (bpfleetv1.Program, func(*testing.T)) {
			return &bpfleetv1.FexitProgram{ObjectMeta: metav1.ObjectMeta{Name: "fexit-e2e"}, Spec: bpfleetv1.FexitProgramSpec{
				ProgramCommon: common(s, "fentry-counter", "fexit_openat"), Fexit: bpfleetv1.FentryAttach{Function: "do_sys_openat2"}}}, openFiles
		}, "calls", 1},
		{bpfleetv1.HookLSM, func(*testing.T) (bpfleetv1.Program, func(*testing.T)) {
			return &bpfleetv1.LsmProgram{ObjectMeta: metav1.ObjectMeta{Name: "lsm-e2e"}, Spec: bpfleetv1.LsmProgramSpec{
				ProgramCommon: common(s, "lsm-counter", "lsm_file_open"), LSM: bpfleetv1.LsmAttach{Hook: "file_open"}}}, openFiles
		}, "counts", 0},
		{bpfleetv1.HookTCX, func(t *testing.T) (bpfleetv1.Program, func(*testing.T)) {
			host, ns, hostIP, _ := testkernel.VethPair(t)
			return tcx(s, "tcx-e2e", host, bpfleetv1.TCXIngress, nil), func(t *testing.T) { testkernel.Ping(t, ns, hostIP, 5) }
		}, "packets", 0},
	} {
		t.Run(tc.hook, func(t *testing.T) {
			h, err := attach.Lookup(tc.hook)
			if err != nil {
				t.Fatal(err)
			}
			probeErr := h.Probe()
			if attach.Inconclusive(probeErr) {
				t.Fatalf("probe of %s inconclusive: %v", tc.hook, probeErr)
			}
			p, fire := tc.program(t)
			if probeErr == nil {
				t.Run("Ready", func(t *testing.T) {
					st := apply(t, s, p)
					fire(t)
					if n := testkernel.MapValue(t, st.Objects.MapIDs[tc.counter], tc.key); n < 5 {
						t.Fatalf("%s counted %d events, want at least 5", tc.hook, n)
					}
				})
				return
			}
			t.Run("Unsupported", func(t *testing.T) {
				t.Logf("%s is missing here, as the agent's probe says: %v", tc.hook, probeErr)
				if err := s.Client.Create(context.Background(), p); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { deleteAndWait(t, s.Client, p) })
				waitProgram(t, s.Client, p, "Ready with 1 unsupported", func(p bpfleetv1.Program) bool {
					return readyNow(p) && p.ProgramStatus().Nodes.Unsupported == 1
				})
				c := metaReady(p)
				if c.Reason != bpfleetv1.ReasonUnsupported || !strings.Contains(c.Message, "cannot run on this node") {
					t.Errorf("%s: Ready reason %s message %q; want Unsupported saying what the node lacks", p.GetName(), c.Reason, c.Message)
				}
			})
		})
	}
}

func metaReady(p bpfleetv1.Program) metav1.Condition {
	for _, c := range p.ProgramStatus().Conditions {
		if c.Type == bpfleetv1.ConditionReady {
			return c
		}
	}
	return metav1.Condition{}
}

// poll runs ok until it holds, for up to a minute; state describes what
// was last seen, for the failure message.
func poll(t testing.TB, what string, ok func(context.Context) bool, state func() string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 60*time.Second, true,
		func(ctx context.Context) (bool, error) { return ok(ctx), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s; last seen: %s", what, state())
	}
}
