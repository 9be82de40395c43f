package nodesync

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The agent's set comes whole with its watch's events: the watch starts a
// first pass (also when the set was read before it started, as the Lease
// does), a change of spec costs no read of the set and starts a pass, and
// a deleted set is made anew. Each watch ends after one event (no decode buffers sized to
// the set are held between changes).
func TestHeldSetFollowsItsWatch(t *testing.T) {
	plane := startPlane(t)
	cfg, requests := recorded(plane.Config)
	const node = "held-node"
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := client.New(plane.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var h heldSet
	passes := make(chan struct{}, 100)
	get := func() *bpfleetv1.NodeProgramSet {
		t.Helper()
		set, err := h.get(ctx, c, c, node)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	made := get()
	if made.UID == "" {
		t.Fatal("no set made")
	}
	go h.watch(ctx, c, node, func() { passes <- struct{}{} })
	waitPass(t, passes, "the watch started", func() bool { return true })
	gets := func() int { return len(requests.reads("nodeprogramsets")["get"]) }
	before := gets()
	update := made.DeepCopy()
	update.Spec.Scheduled = true
	if err := other.Update(ctx, update); err != nil {
		t.Fatal(err)
	}
	waitPass(t, passes, "a change of spec", func() bool { return get().ResourceVersion == update.ResourceVersion })
	if got := get(); !got.Spec.Scheduled {
		t.Errorf("after a change the agent holds %+v, want the new spec", got.Spec)
	}
	if gets() != before {
		t.Errorf("the set was read %d times after a change, want 0: its watch brings it", gets()-before)
	}
	if err := other.Delete(ctx, update); err != nil {
		t.Fatal(err)
	}
	waitPass(t, passes, "the set's deletion", func() bool { return get().UID != made.UID })
	// The watch after the deletion's may start just after its pass.
	watches := func() int { return len(requests.reads("nodeprogramsets")["watch"]) }
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return watches() >= 3, nil
	}); err != nil {
		t.Errorf("%d watches of the set for 2 changes: a watch that outlives its event holds buffers sized to the set", watches())
	}
}

// waitPass waits until a pass is started and ok holds.
func waitPass(t *testing.T, passes <-chan struct{}, what string, ok func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		select {
		case <-passes:
			return ok(), nil
		default:
			return false, nil
		}
	})
	if err != nil {
		t.Fatalf("no pass after %s", what)
	}
}
