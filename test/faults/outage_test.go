package faults

import (
	"context"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// outage is how long the API server stays down.
const outage = 2 * time.Minute

// The API server is stopped for two minutes, then started again (etcd and
// its data stay): the agent keeps the program running the whole time
// (same program, counting), and a spec change made after the server's
// return becomes live; the time it takes is measured.
func TestAPIServerOutage(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	tp := tracepointCounter(s, "faults-outage-counter")
	t.Cleanup(func() { h.deleteAll(tp) })
	h.start("")
	if err := s.stack.Client.Create(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	h.settle("the counter Ready", func(ctx context.Context) bool { return programReady(ctx, s.stack.Client, tp) })
	before := nodeEntry(t, s.stack.Client, tp.UID)

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
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(10 * time.Second) {
		assertCounting(t, h, before.ProgramID, before.Objects.MapIDs["counts"])
	}
	if err := plane.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now()
	base := tp.DeepCopy()
	tp.Spec.GlobalData["increment"] = "1000"
	waitFor(t, "the API server taking a patch", func(ctx context.Context) bool {
		return s.stack.Client.Patch(ctx, tp, client.MergeFrom(base)) == nil
	})
	h.settle("the change live", func(ctx context.Context) bool { return programReady(ctx, s.stack.Client, tp) })
	recovery := time.Since(back)
	after := nodeEntry(t, s.stack.Client, tp.UID)
	checkPins(t, after, "main")
	checkRoot(t, h.pinRoot, after)
	n0 := testkernel.MapValue(t, after.Objects.MapIDs["counts"], uint32(os.Getpid()))
	testkernel.OpenFiles(t, 3)
	if n := testkernel.MapValue(t, after.Objects.MapIDs["counts"], uint32(os.Getpid())) - n0; n < 3000 {
		t.Errorf("the counter rose by %d after 3 opens with increment 1000: the change is not live", n)
	}
	t.Logf("API server down %v: program %d ran throughout; a change made after its return was live %v later (program %d)",
		outage, before.ProgramID, recovery.Round(time.Millisecond), after.ProgramID)
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
	n0 := testkernel.MapValue(t, mapID, uint32(os.Getpid()))
	testkernel.OpenFiles(t, 5)
	if n := testkernel.MapValue(t, mapID, uint32(os.Getpid())) - n0; n < 5 {
		t.Fatalf("the counter rose by %d after 5 opens during the outage", n)
	}
}
