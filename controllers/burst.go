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
// changes have stopped coming for burstQuiet, but no node waits longer
// than burstMax, whatever the changes' rhythm. A lone change waits
// burstQuiet.
const (
	burstQuiet = time.Second
	burstMax   = 10 * time.Second
)

// burst tracks the last program change and the nodes it holds. The zero
// value is ready.
type burst struct {
	mu   sync.Mutex
	last time.Time
	// held maps a held node to when it was first held.
	held map[string]time.Time
}

// note records a change at now.
func (b *burst) note(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = now
}

// hold is how long node's pass should wait at now for the burst to end
// (0: go ahead).
func (b *burst) hold(node string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	wait := b.last.Add(burstQuiet).Sub(now)
	if wait > 0 {
		if b.held == nil {
			b.held = map[string]time.Time{}
		}
		since, ok := b.held[node]
		if !ok {
			since, b.held[node] = now, now
		}
		wait = min(wait, since.Add(burstMax).Sub(now))
	}
	if wait <= 0 {
		delete(b.held, node)
		return 0
	}
	return wait
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
