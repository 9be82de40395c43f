package controllers

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// fleet is n nodes running generation 1 of program "p", the first canaries
// of them canary nodes.
func fleet(n, canaries int) []rolloutNode {
	nodes := make([]rolloutNode, n)
	for i := range nodes {
		name := fmt.Sprintf("node-%02d", i)
		nodes[i] = rolloutNode{name: name, canary: i < canaries, rank: rank("p", name), asked: 1,
			report: &bpfleetv1.NodeProgramStatus{Generation: 1, State: bpfleetv1.StateReady}}
	}
	return nodes
}

// agents plays the nodes' agents for one pass: a node the rollout released
// is asked gen and reports it, failing on the nodes in bad.
func agents(ro *bpfleetv1.RolloutStatus, nodes []rolloutNode, bad map[string]bool) {
	for i, n := range nodes {
		if !n.runs(ro) || ro.Halted && n.asked != ro.Generation {
			continue
		}
		nodes[i].asked = ro.Generation
		nodes[i].report = &bpfleetv1.NodeProgramStatus{Generation: ro.Generation, State: bpfleetv1.StateReady}
		if bad[n.name] {
			nodes[i].report = &bpfleetv1.NodeProgramStatus{Generation: ro.Generation, State: bpfleetv1.StateFailed,
				Reason: bpfleetv1.ReasonVerifierRejected, Message: "invalid mem access", Terminal: true}
		}
	}
}

// updated lists, sorted, the nodes asked to run gen.
func updated(nodes []rolloutNode, gen int64) (names []string) {
	for _, n := range nodes {
		if n.asked == gen {
			names = append(names, n.name)
		}
	}
	slices.Sort(names)
	return names
}

var stable = &bpfleetv1.RolloutStatus{Generation: 1, Released: bpfleetv1.ReleaseAll, StableGeneration: 1, StableRevision: "tracepointprogram-p-1"}

func TestGoodUpdateWalksBatchesInOrder(t *testing.T) {
	nodes := fleet(8, 0)
	two := intstr.FromInt32(2)
	spec := &bpfleetv1.RolloutSpec{MaxUnavailable: &two}
	prev := stable
	var sizes []int
	for step := 0; step < 10; step++ {
		ro, complete := planRollout(spec, 2, prev, nodes)
		before := len(updated(nodes, 2))
		agents(&ro, nodes, nil)
		if n := len(updated(nodes, 2)) - before; n > 0 {
			sizes = append(sizes, n)
		}
		prev = &ro
		if complete {
			break
		}
	}
	if fmt.Sprint(sizes) != "[2 2 2 2]" {
		t.Fatalf("batches of %v, want four of 2", sizes)
	}
	// Released in rank order: no node of a later batch ranks before one of an earlier.
	nodes = fleet(8, 0)
	ro, _ := planRollout(spec, 2, stable, nodes)
	agents(&ro, nodes, nil)
	for _, n := range nodes {
		if ro.Released != bpfleetv1.ReleaseBatches || ro.RankBound == nil {
			t.Fatalf("first batch released %s, want Batches with a rank bound", ro.Released)
		}
		if n.asked != 2 && n.rank < *ro.RankBound {
			t.Errorf("%s (rank %d) held back while rank %d was released", n.name, n.rank, *ro.RankBound)
		}
	}
}

func TestBadUpdateHaltsAfterTheCanary(t *testing.T) {
	nodes := fleet(8, 2)
	spec := &bpfleetv1.RolloutSpec{Canary: &bpfleetv1.RolloutCanary{}}
	ro, _ := planRollout(spec, 2, stable, nodes)
	agents(&ro, nodes, map[string]bool{"node-00": true})
	if got := updated(nodes, 2); fmt.Sprint(got) != "[node-00 node-01]" {
		t.Fatalf("first batch %v, want the two canaries", got)
	}
	for range 3 {
		next, complete := planRollout(spec, 2, &ro, nodes)
		agents(&next, nodes, map[string]bool{"node-00": true})
		if !next.Halted || complete {
			t.Fatalf("rollout not halted after the canary failed: %+v", next)
		}
		ro = next
	}
	if got := updated(nodes, 2); len(got) != 2 {
		t.Fatalf("halted rollout reached %v", got)
	}
	ready, _, stalled := rolloutConditions(spec, &ro, nodes, metav1.Condition{}, metav1.Condition{}, metav1.Condition{})
	if stalled.Status != metav1.ConditionTrue || stalled.Reason != bpfleetv1.ReasonRolloutHalted || ready.Status != metav1.ConditionFalse {
		t.Errorf("conditions Ready=%s Stalled=%s/%s, want Stalled RolloutHalted", ready.Status, stalled.Status, stalled.Reason)
	}

	// A fixed spec (generation 3) starts over, from the canaries.
	fixed, _ := planRollout(spec, 3, &ro, nodes)
	agents(&fixed, nodes, nil)
	if fixed.Halted || fmt.Sprint(updated(nodes, 3)) != "[node-00 node-01]" {
		t.Fatalf("generation 3: halted=%t, updated %v; want the canaries first", fixed.Halted, updated(nodes, 3))
	}
}

func TestPausedRolloutReleasesNothing(t *testing.T) {
	nodes := fleet(4, 0)
	spec := &bpfleetv1.RolloutSpec{Paused: true}
	ro, complete := planRollout(spec, 2, stable, nodes)
	agents(&ro, nodes, nil)
	if complete || len(updated(nodes, 2)) != 0 {
		t.Fatalf("paused rollout released %v", updated(nodes, 2))
	}
	_, reconciling, _ := rolloutConditions(spec, &ro, nodes, metav1.Condition{}, metav1.Condition{}, metav1.Condition{})
	if reconciling.Reason != bpfleetv1.ReasonRolloutPaused {
		t.Errorf("Reconciling reason %s, want RolloutPaused", reconciling.Reason)
	}
	spec.Paused = false
	ro, _ = planRollout(spec, 2, &ro, nodes)
	agents(&ro, nodes, nil)
	if len(updated(nodes, 2)) != 1 {
		t.Errorf("resumed rollout released %v, want one node (25%% of 4)", updated(nodes, 2))
	}
}

func TestFirstGenerationGoesEverywhere(t *testing.T) {
	nodes := fleet(8, 0)
	for i := range nodes {
		nodes[i].asked, nodes[i].report = 0, nil
	}
	ro, _ := planRollout(nil, 1, nil, nodes)
	agents(&ro, nodes, nil)
	if len(updated(nodes, 1)) != 8 {
		t.Fatalf("first generation reached %v, want all 8 nodes", updated(nodes, 1))
	}
}

// A node that joins while a rollout is halted gets the last generation
// that reached every node, not the failing one.
func TestNewNodeGetsTheLastGoodGeneration(t *testing.T) {
	kp := program("p", "r.io/p:v2", &bpfleetv1.ResolvedImage{Ref: "r.io/p:v2", Digest: "sha256:new"}, nil)
	kp.Program.ProgramStatus().Rollout = &bpfleetv1.RolloutStatus{
		Generation: 3, Released: bpfleetv1.ReleaseAll, Halted: true, StableGeneration: 2, StableRevision: "tracepointprogram-p-2",
	}
	revisions := func(p bpfleetv1.Program) (bpfleetv1.NodeProgram, bool) {
		if p.ProgramStatus().Rollout.StableRevision != "tracepointprogram-p-2" {
			return bpfleetv1.NodeProgram{}, false
		}
		return bpfleetv1.NodeProgram{UID: "p", Generation: 2, Image: "r.io/p@sha256:old"}, true
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "joined"}}
	np, ok := nodeEntry(kp, node, nil, nil, revisions)
	if !ok || np.Generation != 2 || np.Image != "r.io/p@sha256:old" {
		t.Fatalf("a new node got %+v (%t), want the stable generation 2", np, ok)
	}
	kp.Program.ProgramStatus().Rollout.Halted = false
	if np, _ := nodeEntry(kp, node, nil, nil, revisions); np.Generation != 3 {
		t.Fatalf("once released everywhere, a new node got generation %d, want 3", np.Generation)
	}
}

// A new program no rollout has planned yet goes to a node at once when its
// first generation would go everywhere anyway; with canaries, a pause or
// an unresolved image it waits for the plan, and a node running an older
// generation keeps it.
func TestFirstGenerationBeforeThePlan(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	canary := &bpfleetv1.RolloutSpec{Canary: &bpfleetv1.RolloutCanary{NodeSelector: metav1.LabelSelector{MatchLabels: map[string]string{"c": "y"}}}}
	older := &bpfleetv1.NodeProgram{UID: "p", Generation: 2}
	resolved := &bpfleetv1.ResolvedImage{Ref: "r.io/p:v2", Digest: "sha256:abc"}
	for _, tc := range []struct {
		name    string
		kp      KindedProgram
		rollout *bpfleetv1.RolloutSpec
		old     *bpfleetv1.NodeProgram
		wantGen int64 // 0: not scheduled
	}{
		{"no rollout spec", program("p", "r.io/p:v2", resolved, nil), nil, nil, 3},
		{"canaries", program("p", "r.io/p:v2", resolved, nil), canary, nil, 0},
		{"paused", program("p", "r.io/p:v2", resolved, nil), &bpfleetv1.RolloutSpec{Paused: true}, nil, 0},
		{"unresolved tag", program("p", "r.io/p:v3", resolved, nil), nil, nil, 0},
		{"node runs an older generation", program("p", "r.io/p:v2", resolved, nil), nil, older, 2},
	} {
		tc.kp.Program.Source().Rollout = tc.rollout
		tc.kp.Program.ProgramStatus().Rollout = nil // not planned yet
		np, ok := nodeEntry(tc.kp, node, tc.old, nil, nil)
		if got := map[bool]int64{true: np.Generation}[ok]; got != tc.wantGen {
			t.Errorf("%s: scheduled generation %d, want %d", tc.name, got, tc.wantGen)
		}
	}
}

// One function decides the shortcut of a generation with nothing to
// protect: everywhere at once, after the canaries if there are some, never
// while paused, never once a generation reached every node or a node runs
// another one.
func TestGoesEverywhere(t *testing.T) {
	canary := &bpfleetv1.RolloutSpec{Canary: &bpfleetv1.RolloutCanary{}}
	paused := &bpfleetv1.RolloutSpec{Paused: true}
	for _, tc := range []struct {
		name                               string
		spec                               *bpfleetv1.RolloutSpec
		hasStable, olderRuns, canariesDone bool
		want                               bool
	}{
		{"no rollout spec", nil, false, false, false, true},
		{"a stable generation", nil, true, false, false, false},
		{"a node runs an older one", nil, false, true, false, false},
		{"paused", paused, false, false, true, false},
		{"canaries not done", canary, false, false, false, false},
		{"canaries done", canary, false, false, true, true},
	} {
		if got := goesEverywhere(tc.spec, tc.hasStable, tc.olderRuns, tc.canariesDone); got != tc.want {
			t.Errorf("%s: goesEverywhere = %t, want %t", tc.name, got, tc.want)
		}
	}
}

// A generation every node runs is released to all, whatever the written
// plan said: the plan that released the last batch may have been handed
// to the node passes and never written (see ahead).
func TestCompleteRolloutReleasesAll(t *testing.T) {
	nodes := fleet(4, 0)
	for i := range nodes {
		nodes[i].asked, nodes[i].report = 2, &bpfleetv1.NodeProgramStatus{Generation: 2, State: bpfleetv1.StateReady}
	}
	bound := int64(0)
	ro, complete := planRollout(nil, 2, &bpfleetv1.RolloutStatus{Generation: 2, Released: bpfleetv1.ReleaseBatches, RankBound: &bound}, nodes)
	if !complete || ro.Released != bpfleetv1.ReleaseAll || ro.RankBound != nil {
		t.Errorf("complete=%t, released %s, rank bound %v; want complete, All, no bound", complete, ro.Released, ro.RankBound)
	}
}
