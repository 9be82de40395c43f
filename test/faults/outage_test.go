package faults

import (
	"context"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// outage is how long the API server stays down.
const outage = 2 * time.Minute

// The API server is stopped for two minutes, then started again (etcd and
// its data stay): the agent keeps the program running the whole time
// (same program, counting), and a spec change made after the server's
// return becomes live; the time it takes is measured. Then the node stops
// the agent, which exits promptly: an informer the server's return found
// backing off once slept out its backoff, up to a minute, before it looked
// at its stop (see nodesync.ListThenWatch).
func TestAPIServerOutage(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	tp := tracepointCounter(s, "faults-outage-counter")
	t.Cleanup(func() { h.deleteAll(tp) })
	before := h.runCounter(tp)

	up := apiServerDown(t, s)
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(10 * time.Second) {
		assertCounting(t, h, before.ProgramID, before.Objects.MapIDs["counts"])
	}
	up()
	back := time.Now()
	after := h.changeLive(tp)
	live := time.Since(back)
	took := h.stopWithin(stopLimit)
	t.Logf("API server down %v: program %d ran throughout; a change made after its return was live %v later (program %d); the agent stopped %v after SIGTERM",
		outage, before.ProgramID, live.Round(time.Millisecond), after.ProgramID, took.Round(time.Millisecond))
}

// stopAfter is how long the API server has been down when the node stops
// the agent in TestStopDuringOutage: by then the informers' retries are
// tens of seconds apart (client-go's backoff: from 0.8 s, doubling up to
// 30 s, each wait up to twice as long).
const stopAfter = 45 * time.Second

// stopLimit bounds the agent's stop around an outage, well within the
// kubelet's default grace period (30 s), after which it kills.
const stopLimit = 10 * time.Second

// The node stops the agent (SIGTERM, as a drain or an update of the
// DaemonSet does) while the API server has been down for 45 s:
// the agent exits promptly, and the program goes on running. Once the
// server and the agent are back, a change becomes live.
func TestStopDuringOutage(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	tp := tracepointCounter(s, "faults-stop-outage")
	t.Cleanup(func() { h.deleteAll(tp) })
	before := h.runCounter(tp)

	up := apiServerDown(t, s)
	time.Sleep(stopAfter)
	took := h.stopWithin(stopLimit)
	if got := counters(t); len(got) != 1 || got[0] != before.ProgramID {
		t.Fatalf("counters in the kernel with the agent stopped: %v, want [%d]", got, before.ProgramID)
	}
	assertCounts(t, before.Objects.MapIDs["counts"], 5)
	up()
	h.start("")
	after := h.changeLive(tp)
	t.Logf("API server down %v: the agent stopped %v after SIGTERM; program %d ran on; a change made once both were back was live (program %d)",
		stopAfter, took.Round(time.Millisecond), before.ProgramID, after.ProgramID)
}

// runCounter starts the agent, creates tp, waits until it is Ready, and
// returns the node's entry for it.
func (h *host) runCounter(tp *bpfleetv1.TracepointProgram) bpfleetv1.NodeProgramStatus {
	h.t.Helper()
	h.start("")
	if err := h.s.stack.Client.Create(context.Background(), tp); err != nil {
		h.t.Fatal(err)
	}
	h.settle("the counter Ready", func(ctx context.Context) bool { return programReady(ctx, h.s.stack.Client, tp) })
	return nodeEntry(h.t, h.s.stack.Client, tp.UID)
}

// apiServerDown stops the suite's API server (etcd and its data stay), and
// returns the function that starts it again; a case that ends without
// calling it gets the server back at cleanup.
func apiServerDown(t *testing.T, s *suite) (up func()) {
	t.Helper()
	plane := s.stack.Plane
	if err := plane.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = plane.StartAPIServer(context.Background())
		}
	})
	return func() {
		t.Helper()
		if err := plane.StartAPIServer(context.Background()); err != nil {
			t.Fatal(err)
		}
		restarted = true
	}
}

// afterOutage bounds how long a change takes to become live once the API
// server is back: the operator's informers retry watching up to a minute
// apart after a long outage (client-go's backoff: 30 s at most, each wait
// up to twice as long), and none of it is tunable through
// controller-runtime.
const afterOutage = 2 * time.Minute

// changeLive makes tp's counter add 1000 an event (once the API server
// takes the patch), waits until the change is Ready, checks it is live in
// the kernel and pinned, and returns the node's entry.
func (h *host) changeLive(tp *bpfleetv1.TracepointProgram) bpfleetv1.NodeProgramStatus {
	h.t.Helper()
	c := h.s.stack.Client
	base := tp.DeepCopy()
	tp.Spec.GlobalData["increment"] = "1000"
	waitFor(h.t, "the API server taking a patch", func(ctx context.Context) bool {
		return c.Patch(ctx, tp, client.MergeFrom(base)) == nil
	})
	h.settleWithin("the change live", afterOutage, func(ctx context.Context) bool { return programReady(ctx, c, tp) })
	after := nodeEntry(h.t, c, tp.UID)
	checkPins(h.t, after, "main")
	checkRoot(h.t, h.pinRoot, after)
	n0 := testkernel.MapValue(h.t, after.Objects.MapIDs["counts"], uint32(os.Getpid()))
	testkernel.OpenFiles(h.t, 3)
	if n := testkernel.MapValue(h.t, after.Objects.MapIDs["counts"], uint32(os.Getpid())) - n0; n < 3000 {
		h.t.Errorf("the counter rose by %d after 3 opens with increment 1000: the change is not live", n)
	}
	return after
}

// assertCounting checks that the agent runs, the program is still pinned
// with the same ID, and it counts this process's opens.
func assertCounting(t *testing.T, h *host, progID, mapID uint32) {
	t.Helper()
	if h.agent.exited() {
		t.Fatalf("the agent exited during the outage: %s", h.agent.cmd.ProcessState)
	}
	if got := counters(t); len(got) != 1 || got[0] != progID {
		t.Fatalf("counters in the kernel during the outage: %v, want [%d]", got, progID)
	}
	assertCounts(t, mapID, 5)
}

// assertCounts checks that the counter in map mapID counts n opens of
// this process.
func assertCounts(t *testing.T, mapID uint32, n uint64) {
	t.Helper()
	n0 := testkernel.MapValue(t, mapID, uint32(os.Getpid()))
	testkernel.OpenFiles(t, int(n))
	if d := testkernel.MapValue(t, mapID, uint32(os.Getpid())) - n0; d < n {
		t.Fatalf("the counter rose by %d after %d opens", d, n)
	}
}
