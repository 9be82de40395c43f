package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A burst of program changes (a GitOps sync applying a hundred programs,
// one after another) should reach each node in one write of its set, and
// one report from its agent, not one per program: node passes wait until
// changes have stopped coming for burstQuiet, or burstMax after the first
// change of the burst, whichever comes first. A lone change waits
// burstQuiet.
const (
	burstQuiet = time.Second
	burstMax   = 10 * time.Second
)

// burst tracks the program changes in progress. The zero value is ready.
type burst struct {
	mu          sync.Mutex
	first, last time.Time
}

// note records a change at now.
func (b *burst) note(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.last) > burstQuiet {
		b.first = now // a new burst
	}
	b.last = now
}

// hold is how long a node pass should wait at now for the burst to end
// (0: go ahead).
func (b *burst) hold(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, min(b.last.Add(burstQuiet).Sub(now), b.first.Add(burstMax).Sub(now)))
}

// enqueue is an event handler that notes each event in the burst and
// enqueues what fn maps it to burstQuiet later (a node already waiting
// keeps its place).
func (b *burst) enqueue(fn handler.MapFunc) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	add := func(ctx context.Context, obj client.Object, q queue) {
		b.note(time.Now())
		for _, req := range fn(ctx, obj) {
			q.AddAfter(req, burstQuiet)
		}
	}
	return handler.Funcs{
		CreateFunc:  func(ctx context.Context, e event.CreateEvent, q queue) { add(ctx, e.Object, q) },
		UpdateFunc:  func(ctx context.Context, e event.UpdateEvent, q queue) { add(ctx, e.ObjectNew, q) },
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { add(ctx, e.Object, q) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { add(ctx, e.Object, q) },
	}
}
