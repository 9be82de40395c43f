package nodesync

import (
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The agent reads its set when the set changed, and not on every pass; it
// makes the set when there is none.
func TestHeldSetReadOnlyWhenChanged(t *testing.T) {
	plane := startPlane(t)
	cfg, requests := recorded(plane.Config)
	const node = "held-node"
	mgr, err := newManager(cfg, Scheme(), Options{NodeName: node, MetricsAddr: "0", InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := startManager(t, mgr)
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the cache never started")
	}
	var h heldSet
	get := func() *bpfleetv1.NodeProgramSet {
		t.Helper()
		set, err := h.get(ctx, mgr.GetClient(), mgr.GetAPIReader(), node)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	made := get()
	if made.UID == "" {
		t.Fatal("no set made")
	}
	gets := func() int { return len(requests.reads("nodeprogramsets")["get"]) }
	waitCached(t, ctx, mgr.GetCache(), "NodeProgramSet", node, made.ResourceVersion)
	before := gets()
	if again := get(); again.UID != made.UID || gets() != before {
		t.Errorf("an unchanged set was read again (%d reads)", gets()-before)
	}
	made.Spec.Scheduled = true
	if err := mgr.GetClient().Update(ctx, made); err != nil {
		t.Fatal(err)
	}
	waitCached(t, ctx, mgr.GetCache(), "NodeProgramSet", node, made.ResourceVersion)
	if got := get(); !got.Spec.Scheduled || got.ResourceVersion != made.ResourceVersion {
		t.Errorf("after a change the agent holds %+v at %s, want the new spec at %s", got.Spec, got.ResourceVersion, made.ResourceVersion)
	}
}
