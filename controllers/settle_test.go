package controllers

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A node's new spec reaches the status of the programs it names once the
// node's report had time to follow (one status write for both), but a
// program it withholds or no longer names at once: no report follows
// the one, and a deletion may wait on the other.
func TestSetChangeSettlesBeforeStatus(t *testing.T) {
	r := &ProgramReconciler{Kind: Kind{Name: "TracepointProgram"}}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	entry := func(kind, name string) bpfleetv1.NodeProgram {
		return bpfleetv1.NodeProgram{UID: types.UID("uid-" + name), Kind: kind, Name: name, Generation: 1}
	}
	old := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: bpfleetv1.NodeProgramSetSpec{Programs: []bpfleetv1.NodeProgram{entry("TracepointProgram", "removed"), entry("TracepointProgram", "kept")}}}
	cur := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: bpfleetv1.NodeProgramSetSpec{
			Programs: []bpfleetv1.NodeProgram{entry("TracepointProgram", "added"), entry("TracepointProgram", "kept"), entry("XdpProgram", "other-kind")},
			Withheld: []bpfleetv1.WithheldProgram{{UID: "uid-big", Kind: "TracepointProgram", Name: "big", Generation: 1}},
		}}
	r.onSet().Update(context.Background(), event.UpdateEvent{ObjectOld: old, ObjectNew: cur}, q)
	at := func(n int) []string {
		var names []string
		for range n {
			req, _ := q.Get() // blocks until a request is due
			names = append(names, req.Name)
			q.Done(req)
		}
		slices.Sort(names)
		return names
	}
	if n := q.Len(); n != 2 {
		t.Fatalf("%d programs enqueued at once, want 2 (the withheld one, the one no longer named)", n)
	}
	if got := at(2); !slices.Equal(got, []string{"big", "removed"}) {
		t.Fatalf("at once: %v, want [big removed]", got)
	}
	if got := at(2); !slices.Equal(got, []string{"added", "kept"}) {
		t.Fatalf("after setSettle: %v, want [added kept]", got)
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d more requests, want none (other kinds are not this reconciler's)", n)
	}
}
