package faults

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/internal/oci/ocitest"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// registryTimeout is the agent's --registry-timeout in the hanging
// registry case.
const registryTimeout = 2 * time.Second

// A program's image lives on a registry that accepts the agent's request
// and never answers. In the same change, a running program is updated:
// the pass ends (the agent's liveness endpoint stays healthy throughout),
// the update is live, the running programs ran on, and the program on the
// hanging registry fails with a transient ImagePullFailed saying the
// registry timed out.
func TestHangingRegistry(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	h.ownImages("")
	h.args = append(h.args, "--registry-timeout="+registryTimeout.String())
	ep := h.serveEndpoints()
	c := s.stack.Client
	ref, _ := pushCounter(t, s, "hanging-counter", "v1", 0)
	host := ocitest.HangOnDigests(t, s.stack.Registry)
	hanging := counterFrom(s, "faults-hanging-counter", strings.Replace(ref, s.stack.Registry, host, 1))
	running := tracepointCounter(s, "faults-running-counter")
	t.Cleanup(func() { h.deleteAll(running, hanging) })
	h.start("")
	if err := c.Create(context.Background(), running); err != nil {
		t.Fatal(err)
	}
	h.settle("the running counter Ready", func(ctx context.Context) bool { return programReady(ctx, c, running) })
	before := nodeEntry(t, c, running.UID)

	stopProbe := probeHealth(t, ep)
	began := time.Now()
	if err := c.Create(context.Background(), hanging); err != nil {
		t.Fatal(err)
	}
	base := running.DeepCopy()
	running.Spec.GlobalData["increment"] = "3"
	if err := c.Patch(context.Background(), running, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	h.settle("the update live and the hanging pull failed", func(ctx context.Context) bool {
		st, ok := reported(ctx, c, hanging.UID)
		return ok && st.Reason == image.ReasonPullFailed && programReady(ctx, c, running)
	})
	took := time.Since(began)
	probes, unhealthy := stopProbe()
	failed := nodeEntry(t, c, hanging.UID)
	after := nodeEntry(t, c, running.UID)
	t.Logf("registry that never answers, timeout %v: the pass with the update and the hanging pull ended within %v; %d liveness probes, %d unhealthy; %s",
		registryTimeout, took.Round(time.Millisecond), probes, len(unhealthy), failed.Message)
	if len(unhealthy) > 0 {
		t.Errorf("the liveness endpoint failed during the pass: %v", unhealthy)
	}
	if !strings.Contains(failed.Message, "registry "+host+" timed out") || failed.Terminal {
		t.Errorf("the hanging program's failure does not say the registry timed out, or is terminal: %+v", failed)
	}
	if after.ProgramID == before.ProgramID {
		t.Errorf("the update is not live: program %d runs on", after.ProgramID)
	}
	checkPins(t, after, "main")
	checkRoot(t, h.pinRoot, after)
	eventually(t, "the counters in the kernel are the updated one", func() error {
		return sameIDs("tracepoint counters", counters(t), programIDs(after))
	})
}

// probeHealth polls the agent's liveness endpoint every 100 ms until the
// returned func is called, which says how many probes ran and what the
// failed ones said.
func probeHealth(t *testing.T, ep endpoints) func() (int, []string) {
	var stop atomic.Bool
	done := make(chan struct{})
	var n int
	var failed []string
	go func() {
		defer close(done)
		for !stop.Load() {
			if ok, said := ep.healthy(); !ok {
				failed = append(failed, said)
			}
			n++
			time.Sleep(100 * time.Millisecond)
		}
	}()
	finish := func() (int, []string) {
		if !stop.Swap(true) {
			<-done
		}
		return n, failed
	}
	t.Cleanup(func() { finish() })
	return finish
}
