package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
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
// reached Ready later for it). What a spec withholds or no longer names,
// and a set made or deleted, are looked at at once: a withheld program
// gets no report, and a deleted one may wait on this set alone.
const setSettle = time.Second

// onSet enqueues the programs of this kind a node set names, before or
// after a change (see setSettle).
func (r *ProgramReconciler) onSet() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	add := func(q queue, now, later []reconcile.Request) {
		for _, req := range now {
			q.Add(req)
		}
		for _, req := range later {
			q.AddAfter(req, setSettle)
		}
	}
	all := func(ctx context.Context, o client.Object, q queue) { add(q, r.programsOnSet(ctx, o), nil) }
	return handler.Funcs{
		CreateFunc:  func(ctx context.Context, e event.CreateEvent, q queue) { all(ctx, e.Object, q) },
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { all(ctx, e.Object, q) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { all(ctx, e.Object, q) },
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
			now, later := r.settle(e.ObjectOld.(*bpfleetv1.NodeProgramSet), e.ObjectNew.(*bpfleetv1.NodeProgramSet))
			add(q, now, later)
		},
	}
}

// settle splits the programs of this kind a set's spec change touches into
// those to look at now (withheld by cur, or named by old only) and those
// to look at after setSettle (named by cur's programs).
func (r *ProgramReconciler) settle(old, cur *bpfleetv1.NodeProgramSet) (now, later []reconcile.Request) {
	inCur := requests{kind: r.Kind.Name}
	for _, np := range cur.Spec.Programs {
		inCur.add(np.Kind, entryName(np.Namespace, np.Name))
	}
	quick := requests{kind: r.Kind.Name, seen: map[types.NamespacedName]bool{}}
	for _, w := range cur.Spec.Withheld {
		quick.add(w.Kind, entryName(w.Namespace, w.Name))
	}
	for _, np := range old.Spec.Programs {
		if name := entryName(np.Namespace, np.Name); !inCur.seen[name] {
			quick.add(np.Kind, name)
		}
	}
	for _, w := range old.Spec.Withheld {
		if name := entryName(w.Namespace, w.Name); !inCur.seen[name] {
			quick.add(w.Kind, name)
		}
	}
	for _, req := range inCur.reqs {
		if !quick.seen[req.NamespacedName] {
			later = append(later, req)
		}
	}
	return quick.reqs, later
}
