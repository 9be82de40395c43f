package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// onReport enqueues the programs of this kind a report's change touches:
// on an update, only those whose entries changed (added, removed or
// different), unless what counts for every entry changed (the report's
// owner or set generation, the node's capabilities, a sync after a
// silence); on any other event, every program it names. A report that
// changes one program of a node's hundred does not make the other 99
// reconcile ahead of it.
func (r *ProgramReconciler) onReport() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	all := func(ctx context.Context, o client.Object, q queue) {
		for _, req := range r.programsOnReport(ctx, o) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc:  func(ctx context.Context, e event.CreateEvent, q queue) { all(ctx, e.Object, q) },
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { all(ctx, e.Object, q) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { all(ctx, e.Object, q) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			old, cur := e.ObjectOld.(*bpfleetv1.NodeProgramReport), e.ObjectNew.(*bpfleetv1.NodeProgramReport)
			for _, req := range r.programsOf(ctx, cur.Name, changedEntries(old, cur, time.Now())) {
				q.Add(req)
			}
		},
	}
}

// changedEntries are the UIDs of the programs whose entries differ between
// old and cur (every UID of both where what counts for every entry
// changed, see onReport). Pure.
func changedEntries(old, cur *bpfleetv1.NodeProgramReport, now time.Time) []types.UID {
	whole := !equality.Semantic.DeepEqual(metav1.GetControllerOf(old), metav1.GetControllerOf(cur)) ||
		old.Status.SetGeneration != cur.Status.SetGeneration ||
		!equality.Semantic.DeepEqual(old.Status.Capabilities, cur.Status.Capabilities) ||
		old.Status.LastSync == nil || now.Sub(old.Status.LastSync.Time) > agentSilentAfter/2
	before := make(map[types.UID]*bpfleetv1.NodeProgramStatus, len(old.Status.Programs))
	for i := range old.Status.Programs {
		before[old.Status.Programs[i].UID] = &old.Status.Programs[i]
	}
	var out []types.UID
	for i := range cur.Status.Programs {
		st := &cur.Status.Programs[i]
		if prev, ok := before[st.UID]; whole || !ok || !equality.Semantic.DeepEqual(*prev, *st) {
			out = append(out, st.UID)
		}
		delete(before, st.UID)
	}
	for uid := range before { // no longer reported
		out = append(out, uid)
	}
	return out
}
