package controllers

import (
	"context"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// setSettle is how long the programs a node's new spec names wait before
// their status looks at it. The operator wrote that spec itself, and the
// node's report usually follows within it: then one status write says
// both that the node was asked and that it runs the program, where two
// were written before, the first while the node loads (a lone change
// reached Ready later for it). What a spec withholds, and a set made or
// deleted, are looked at at once: no report follows those.
const setSettle = time.Second

// onSet enqueues the programs of this kind a node set names, before or
// after a change: those of a changed spec setSettle later, the rest at
// once.
func (r *ProgramReconciler) onSet() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	now := func(ctx context.Context, o client.Object, q queue) {
		for _, req := range r.programsOnSet(ctx, o) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc:  func(ctx context.Context, e event.CreateEvent, q queue) { now(ctx, e.Object, q) },
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { now(ctx, e.Object, q) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { now(ctx, e.Object, q) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			withheld := requests{kind: r.Kind.Name}
			for _, w := range e.ObjectNew.(*bpfleetv1.NodeProgramSet).Spec.Withheld {
				withheld.add(w.Kind, w.Name)
			}
			for _, req := range withheld.reqs {
				q.Add(req)
			}
			for _, o := range []client.Object{e.ObjectOld, e.ObjectNew} {
				for _, req := range r.programsOnSet(ctx, o) {
					if !withheld.seen[req.Name] {
						q.AddAfter(req, setSettle)
					}
				}
			}
		},
	}
}
