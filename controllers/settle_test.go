package controllers

import (
	"context"
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
// program it withholds at once: no report follows that.
func TestSetChangeSettlesBeforeStatus(t *testing.T) {
	r := &ProgramReconciler{Kind: Kind{Name: "TracepointProgram"}}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	entry := func(name string) bpfleetv1.NodeProgram {
		return bpfleetv1.NodeProgram{UID: types.UID("uid-" + name), Kind: "TracepointProgram", Name: name, Generation: 1}
	}
	old := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: bpfleetv1.NodeProgramSetSpec{Programs: []bpfleetv1.NodeProgram{entry("removed")}}}
	cur := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Spec: bpfleetv1.NodeProgramSetSpec{
			Programs: []bpfleetv1.NodeProgram{entry("added"), {UID: "uid-x", Kind: "XdpProgram", Name: "other-kind"}},
			Withheld: []bpfleetv1.WithheldProgram{{UID: "uid-big", Kind: "TracepointProgram", Name: "big", Generation: 1}},
		}}
	r.onSet().Update(context.Background(), event.UpdateEvent{ObjectOld: old, ObjectNew: cur}, q)
	if q.Len() != 1 {
		t.Fatalf("%d programs enqueued at once, want 1 (the withheld one)", q.Len())
	}
	got := map[string]bool{}
	for len(got) < 3 {
		req, _ := q.Get() // the others come after setSettle
		got[req.Name] = true
		if len(got) == 1 && req.Name != "big" {
			t.Fatalf("%s came first, want the withheld program", req.Name)
		}
		q.Done(req)
	}
	for _, name := range []string{"added", "removed", "big"} {
		if !got[name] {
			t.Errorf("%s never enqueued: got %v", name, got)
		}
	}
}
