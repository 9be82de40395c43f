package faults

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// guarded is an XDP blocklist on a veth blocking the peer's address, with
// a breach counter on the host side.
type guarded struct {
	h   *host
	c   client.Client
	net veth
	xdp *bpfleetv1.XdpProgram
	mp  *bpfleetv1.MapPolicy
	bc  *breaches
	// allowed is what bc counted before the block.
	allowed int64
}

// newGuarded starts an agent and has it block the peer of a new veth. It
// checks that the breach counter sees the peer's packets before they are
// blocked, and none after.
func newGuarded(t *testing.T, s *suite, name string) *guarded {
	h := newHost(t, s)
	g := &guarded{h: h, c: s.stack.Client, net: newVeth(t)}
	g.xdp = xdpFilter(s, name, g.net.host)
	g.mp = blocklist(name, g.xdp.Name, g.net.peerIP)
	t.Cleanup(func() { h.deleteAll(g.mp, g.xdp) })
	g.bc = countBreaches(t, g.net.host, g.net.peerIP)
	h.start("")
	if err := g.c.Create(context.Background(), g.xdp); err != nil {
		t.Fatal(err)
	}
	h.settle("the filter Ready", func(ctx context.Context) bool { return programReady(ctx, g.c, g.xdp) })
	if got := testkernel.Ping(t, g.net.ns, g.net.hostIP, 2); got != 2 || g.bc.count(t) < 2 {
		t.Fatalf("before blocking: %d of 2 pings answered, %d packets counted; want both", got, g.bc.count(t))
	}
	if err := g.c.Create(context.Background(), g.mp); err != nil {
		t.Fatal(err)
	}
	g.settle(1024)
	g.allowed = g.bc.count(t)
	if got := testkernel.Ping(t, g.net.ns, g.net.hostIP, 2); got != 0 || g.bc.count(t) != g.allowed {
		t.Fatalf("blocked: %d of 2 pings answered, %d packets passed", got, g.bc.count(t)-g.allowed)
	}
	return g
}

// breached is how many packets from the blocked address passed since the
// block.
func (g *guarded) breached() int64 { return g.bc.count(g.h.t) - g.allowed }

// settle waits until the filter and the policy are Ready at their
// generations, with a blocklist of maxEntries.
func (g *guarded) settle(maxEntries uint32) {
	sc := scenario{c: g.c, xdp: g.xdp}
	g.h.settle("the blocklist Ready", func(ctx context.Context) bool {
		return programReady(ctx, g.c, g.xdp) && policyReady(ctx, g.c, g.mp) && sc.sized(ctx, maxEntries)
	})
}

// check asserts the kernel runs the filter as reported, blocking the peer.
func (g *guarded) check(maxEntries uint32) bpfleetv1.NodeProgramStatus {
	t := g.h.t
	t.Helper()
	st := nodeEntry(t, g.c, g.xdp.UID)
	checkPins(t, st, g.net.host)
	checkRoot(t, g.h.pinRoot, st)
	checkBlocklist(t, st.Objects.MapIDs["blocklist"], g.net.peerIP, want{blocked: true, maxEntries: maxEntries})
	eventually(t, "the XDP links on the veth are those reported", func() error {
		return sameIDs("XDP links on "+g.net.host, xdpLinks(t, g.net.host), linkIDs(st))
	})
	return st
}

// The Node object of a running host is deleted (kubectl delete node, a
// remediation tool) and made again while a blocked address floods the
// host: no packet from it passes, and the filter is never reloaded.
func TestNodeDeletedUnderFlood(t *testing.T) {
	s := start(t)
	g := newGuarded(t, s, "faults-node-filter")
	before := g.check(1024)
	f := startFlood(t, g.net)
	ctx := context.Background()
	n := &corev1.Node{}
	if err := g.c.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
		t.Fatal(err)
	}
	if err := g.c.Delete(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { registerNode(t, g.c) })
	waitFor(t, "the Node gone", func(ctx context.Context) bool { return gone(ctx, g.c, n) })
	time.Sleep(5 * time.Second) // the operator and the agent see it gone
	if err := g.c.Get(ctx, client.ObjectKey{Name: node}, &bpfleetv1.NodeProgramSet{}); err != nil {
		t.Errorf("the node's set is gone with its Node while the agent runs: %v", err)
	}
	registerNode(t, g.c)
	g.settle(1024)
	time.Sleep(time.Second) // traffic through the settled node
	sent, answered := f.stop(t)
	after := g.check(1024)
	passed := g.breached()
	t.Logf("Node deleted and made again under a flood: %d echo requests sent from the blocked address, %d passed, %d answered; program %d -> %d",
		sent, passed, answered, before.ProgramID, after.ProgramID)
	if passed != 0 || answered != 0 {
		t.Errorf("%d packets from the blocked address passed, %d answered; want 0", passed, answered)
	}
	if after.ProgramID != before.ProgramID {
		t.Errorf("the filter was reloaded (program %d -> %d): it must run on untouched", before.ProgramID, after.ProgramID)
	}
	if sent < 1000 {
		t.Errorf("only %d echo requests were sent: the test needs traffic", sent)
	}
}

// registerNode creates the suite's Node again, as its kubelet would, if
// it is gone.
func registerNode(t *testing.T, c client.Client) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   node,
		Labels: map[string]string{"kubernetes.io/hostname": node, "kubernetes.io/os": "linux"},
	}}
	if err := c.Create(context.Background(), n); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("register node %s: %v", node, err)
	}
}

func waitFor(t *testing.T, what string, ok func(context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 25*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) { return ok(ctx), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// updates is how many times TestFiftyUpdatesNoBreach replaces the filter.
const updates = 50

// The blocklist program is replaced 50 times (a new maxEntries each time:
// a new revision, moved onto the link in place) while the blocked address
// floods the host: no packet from it may pass, not even for the moment a
// new revision runs before its map is filled.
func TestFiftyUpdatesNoBreach(t *testing.T) {
	s := start(t)
	g := newGuarded(t, s, "faults-updated-filter")
	f := startFlood(t, g.net)
	ids := map[uint32]bool{}
	for i := range updates {
		size := int32(1000 + i%2)
		base := g.mp.DeepCopy()
		g.mp.Spec.MaxEntries = &size
		if err := g.c.Patch(context.Background(), g.mp, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
		g.settle(uint32(size))
		ids[nodeEntry(t, g.c, g.xdp.UID).ProgramID] = true
	}
	sent, answered := f.stop(t)
	g.check(uint32(1000 + (updates-1)%2))
	passed := g.breached()
	t.Logf("%d updates (%d programs) under a flood: %d echo requests sent from the blocked address, %d passed, %d answered",
		updates, len(ids), sent, passed, answered)
	if passed != 0 || answered != 0 {
		t.Errorf("%d packets from the blocked address passed (%d answered) during %d updates; want 0", passed, answered, updates)
	}
	if len(ids) != updates {
		t.Errorf("%d programs ran for %d updates", len(ids), updates)
	}
}
