package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

func program(uid string, ref string, resolved *bpfleetv1.ResolvedImage, sel map[string]string) KindedProgram {
	p := &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid), Generation: 3},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode:     bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}},
					NodeSelector: metav1.LabelSelector{MatchLabels: sel},
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
		Status: bpfleetv1.ProgramStatus{Image: resolved},
	}
	if resolved != nil { // released to every node
		p.Status.Rollout = &bpfleetv1.RolloutStatus{Generation: 3, Released: bpfleetv1.ReleaseAll}
	}
	return KindedProgram{Kind: "TracepointProgram", Program: p}
}

func TestDesiredPrograms(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"role": "edge"}}}
	resolved := &bpfleetv1.ResolvedImage{Ref: "r.io/p:v2", Digest: "sha256:abc"}
	old := bpfleetv1.NodeProgram{UID: "moving", Image: "r.io/p@sha256:old"}
	deleting := program("deleting", "r.io/p:v2", resolved, nil)
	now := metav1.Now()
	deleting.Program.SetDeletionTimestamp(&now)

	got := desiredPrograms(node, nil, []KindedProgram{
		program("b-match", "r.io/p:v2", resolved, map[string]string{"role": "edge"}),
		program("a-all", "r.io/p:v2", resolved, nil),
		program("other", "r.io/p:v2", resolved, map[string]string{"role": "core"}),
		program("moving", "r.io/p:v2", &bpfleetv1.ResolvedImage{Ref: "r.io/p:v1", Digest: "sha256:old"}, nil),
		program("new-unresolved", "r.io/p:v2", nil, nil),
		deleting,
	}, nil, []bpfleetv1.NodeProgram{old}, nil, nil)

	var uids []types.UID
	for _, np := range got {
		uids = append(uids, np.UID)
	}
	want := []types.UID{"a-all", "b-match", "moving"}
	if len(uids) != len(want) {
		t.Fatalf("scheduled %v, want %v", uids, want)
	}
	for i := range want {
		if uids[i] != want[i] {
			t.Fatalf("scheduled %v, want %v (sorted by UID)", uids, want)
		}
	}
	if got[2].Image != old.Image {
		t.Errorf("a program whose new tag is unresolved lost its running entry: %+v", got[2])
	}
	if got[0].Image != "r.io/p@sha256:abc" || got[0].Generation != 3 {
		t.Errorf("entry = %+v, want the digest-pinned image at generation 3", got[0])
	}
}

// The cluster's signature policy comes first on every image and a
// program's own policy is added to it, never instead of it.
func TestSignaturePoliciesAddUp(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	resolved := &bpfleetv1.ResolvedImage{Ref: "r.io/p:v2", Digest: "sha256:abc"}
	no := false
	cluster := &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{{SecretReference: bpfleetv1.SecretReference{Name: "org", Namespace: "bpfleet-system"}}}}
	own := program("own", "r.io/p:v2", resolved, nil)
	ownPolicy := &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{{SecretReference: bpfleetv1.SecretReference{Name: "team", Namespace: "t"}}}, Required: &no}
	own.Program.Source().ByteCode.Image.Verify = ownPolicy

	for _, tc := range []struct {
		name    string
		cluster *bpfleetv1.ImageVerification
		want    map[types.UID][]string
	}{
		{"no cluster policy", nil, map[types.UID][]string{"own": {"team"}, "plain": nil, "path": nil}},
		{"cluster policy", cluster, map[types.UID][]string{"own": {"org", "team"}, "plain": {"org"}, "path": {"org"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := program("path", "", nil, nil)
			path.Program.Source().ByteCode = bpfleetv1.ByteCodeSource{Path: "/opt/bpf/x.o"}
			path.Program.ProgramStatus().Rollout = &bpfleetv1.RolloutStatus{Generation: 3, Released: bpfleetv1.ReleaseAll}
			got := desiredPrograms(node, nil, []KindedProgram{own, program("plain", "r.io/p:v2", resolved, nil), path}, nil, nil, tc.cluster, nil)
			if len(got) != 3 {
				t.Fatalf("scheduled %d programs, want 3", len(got))
			}
			for _, np := range got {
				var names []string
				for _, v := range np.Verify {
					names = append(names, v.Keys[0].Name)
				}
				if fmt.Sprint(names) != fmt.Sprint(tc.want[np.UID]) {
					t.Errorf("%s: policies by key %v, want %v", np.UID, names, tc.want[np.UID])
				}
			}
		})
	}
}

// A lone change leads: its nodes pass at once, and so does the next
// lone change once they have, or before any of them began its pass. A
// change that comes while a batch is being written holds the passes that
// have not started until changes stop.
func TestBurstLeadsThenBatches(t *testing.T) {
	var b burst
	nodes := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: "a"}}, {NamespacedName: types.NamespacedName{Name: "b"}}}
	t0 := time.Now()
	if d := b.hold("a", t0); d != 0 {
		t.Errorf("no change yet: hold %v", d)
	}
	if !b.change("p", nodes, t0) {
		t.Fatal("a lone change does not lead")
	}
	if d := b.hold("a", t0); d != 0 {
		t.Errorf("a lone change: hold %v, want 0", d)
	}
	at := t0.Add(time.Millisecond)
	if !b.change("p", nodes, at) {
		t.Fatal("a second change of the leading object (its digest resolved) does not lead")
	}
	b.hold("a", at) // passes again
	if b.change("q", nodes, at) {
		t.Fatal("a change while node b has not passed yet leads")
	}
	if d := b.hold("b", at); d != burstQuiet {
		t.Errorf("a following change: node b held %v, want %v", d, burstQuiet)
	}
	at = at.Add(burstQuiet / 2)
	if b.change("p", nodes, at) {
		t.Fatal("a change of the leading object during a burst leads")
	}
	if d := b.hold("b", at.Add(burstQuiet)); d != 0 {
		t.Errorf("changes stopped for burstQuiet: hold %v", d)
	}
	at = at.Add(burstQuiet + time.Millisecond)
	if !b.change("r", nodes, at) {
		t.Fatal("a change after the burst ended does not lead")
	}
	b.hold("a", at)
	b.hold("b", at)
	if !b.change("s", nodes, at.Add(time.Millisecond)) {
		t.Error("a change right after every node of the last batch passed does not lead")
	}
	if !b.change("t", nodes, at.Add(2*time.Millisecond)) {
		t.Error("a change while no node of the batch has begun its pass does not lead (those passes read it)")
	}
	if d := b.hold("a", at.Add(2*time.Millisecond)); d != 0 {
		t.Errorf("a change joining the batch: hold %v, want 0", d)
	}
}

// Node passes wait while following changes keep coming, but no node waits
// longer than burstMax, whatever the changes' rhythm.
func TestBurstHoldsNodePasses(t *testing.T) {
	var b burst
	nodes := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: "n"}}, {NamespacedName: types.NamespacedName{Name: "slow"}}}
	for i, every := range []time.Duration{burstQuiet / 2, burstQuiet * 21 / 20} {
		start := time.Now().Add(time.Duration(i+1) * time.Hour)
		b.change("first", nodes, start) // leads; node slow never passes
		b.hold("n", start)              // n passes: later changes follow
		released := false
		for at := start.Add(every); at.Before(start.Add(3 * burstMax)); at = at.Add(every) {
			b.change(types.UID(at.String()), nodes, at)
			if b.hold("n", at.Add(every/2)) == 0 {
				released = true
				break
			}
			if at.Sub(start) > burstMax+every {
				break
			}
		}
		if !released {
			t.Errorf("changes every %v: the node was held for more than burstMax", every)
		}
	}
}

// The first plan of a program that goes everywhere changes no node spec,
// so it starts no node pass, nor does its completion; a plan that holds
// nodes back does.
func TestFirstPlanStartsNoNodePass(t *testing.T) {
	resolved := &bpfleetv1.ResolvedImage{Ref: "r.io/p:v2", Digest: "sha256:abc"}
	unplanned := program("p", "r.io/p:v2", resolved, nil).Program
	unplanned.ProgramStatus().Rollout = nil
	everywhere := unplanned.DeepCopyObject().(bpfleetv1.Program)
	everywhere.ProgramStatus().Rollout = &bpfleetv1.RolloutStatus{Generation: 3, Released: bpfleetv1.ReleaseAll,
		Generations: []bpfleetv1.GenerationNodes{{Generation: 3, Updated: 4}}}
	batch := everywhere.DeepCopyObject().(bpfleetv1.Program)
	bound := int64(12345)
	batch.ProgramStatus().Rollout.Released, batch.ProgramStatus().Rollout.RankBound = bpfleetv1.ReleaseBatches, &bound
	stable := everywhere.DeepCopyObject().(bpfleetv1.Program)
	stable.ProgramStatus().Rollout.StableGeneration, stable.ProgramStatus().Rollout.StableRevision = 3, "tracepointprogram-p-3"
	pred := scheduleChanged()
	if pred.Update(event.UpdateEvent{ObjectOld: unplanned, ObjectNew: everywhere}) {
		t.Error("the first plan of a program going everywhere started node passes")
	}
	if pred.Update(event.UpdateEvent{ObjectOld: everywhere, ObjectNew: stable}) {
		t.Error("its generation made stable (every node runs it) started node passes")
	}
	if !pred.Update(event.UpdateEvent{ObjectOld: unplanned, ObjectNew: batch}) {
		t.Error("a plan holding nodes back started no node pass")
	}
}

// Node passes follow a MapPolicy's spec, resolved entries image and the
// verdict of its checks, not the node counts of its status.
func TestPolicyChangesThatStartNodePasses(t *testing.T) {
	base := &bpfleetv1.MapPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1}}
	checked := base.DeepCopy()
	checked.Status.ObservedGeneration = 1
	counts := checked.DeepCopy()
	counts.Status.Nodes.Ready = 7
	refused := checked.DeepCopy()
	refused.Status.Conditions = []metav1.Condition{{Type: bpfleetv1.ConditionStalled, Status: metav1.ConditionTrue,
		Reason: bpfleetv1.ReasonImageMismatch, ObservedGeneration: 1}}
	spec := base.DeepCopy()
	spec.Generation = 2
	resolved := base.DeepCopy()
	resolved.Status.EntriesImage = &bpfleetv1.ResolvedImage{Ref: "r.io/e:v1", Digest: "sha256:abc"}
	pred := policyScheduleChanged()
	for _, tc := range []struct {
		name     string
		old, cur *bpfleetv1.MapPolicy
		want     bool
	}{
		{"node counts", checked, counts, false},
		{"accepted", base, checked, true},
		{"refused", checked, refused, true},
		{"spec", base, spec, true},
		{"entries image resolved", base, resolved, true},
	} {
		if got := pred.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.cur}); got != tc.want {
			t.Errorf("%s: passes = %v, want %v", tc.name, got, tc.want)
		}
	}
}
