package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A lone program change reaches its nodes at once; a burst of them (a
// GitOps sync applying a hundred programs, one after another) reaches each
// node in one write of its set, and one report from its agent, not one
// per program.
//
// A change leads when no batch is being written: its nodes pass at once,
// and they make the batch until each has passed. So does a later change
// of the object that led the batch (the operator writing the program's
// resolved digest or rollout plan is the same change going on), and a
// change none of whose nodes has begun its pass yet: those passes read it
// anyway. Another change that comes while a batch is being written
// follows: from then on, node passes wait until changes have stopped
// coming for burstQuiet, but no node waits longer than burstMax, whatever
// the changes' rhythm. A node that passed before the burst began passes
// once more after it.
const (
	burstQuiet = time.Second
	burstMax   = 10 * time.Second
)

// burst tracks the batch a leading change started, the last following
// change and the nodes it holds. The zero value is ready.
type burst struct {
	mu sync.Mutex
	// batch holds the nodes the last leading change enqueued that have
	// not passed yet; batchAt is when it came.
	batch   map[string]bool
	batchAt time.Time
	leader  types.UID
	// last is when the last following change came.
	last time.Time
	// held maps a held node to when it was first held.
	held map[string]time.Time
}

// change records a change of object uid at now for nodes, and reports
// whether it leads.
func (b *burst) change(uid types.UID, nodes []reconcile.Request, now time.Time) (leads bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	following := now.Before(b.last.Add(burstQuiet))
	writing := len(b.batch) > 0 && now.Before(b.batchAt.Add(burstMax))
	if following || writing && uid != b.leader && !b.pending(nodes) {
		b.last = now
		return false
	}
	if !writing {
		b.batch, b.batchAt, b.leader = make(map[string]bool, len(nodes)), now, uid
	}
	for _, req := range nodes {
		b.batch[req.Name] = true
	}
	return true
}

// pending reports whether every one of nodes is in the batch, its pass
// not begun. The caller holds b.mu.
func (b *burst) pending(nodes []reconcile.Request) bool {
	for _, req := range nodes {
		if !b.batch[req.Name] {
			return false
		}
	}
	return true
}

// hold is how long node's pass should wait at now for a burst to end
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
		delete(b.batch, node)
		return 0
	}
	return wait
}

// enqueue is an event handler that records each event as a change and
// enqueues what fn maps it to: at once if the change leads, burstQuiet
// later if it follows (a node already waiting keeps its place).
func (b *burst) enqueue(fn handler.MapFunc) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	add := func(ctx context.Context, obj client.Object, q queue) {
		reqs := fn(ctx, obj)
		leads := b.change(obj.GetUID(), reqs, time.Now())
		for _, req := range reqs {
			if leads {
				q.Add(req)
			} else {
				q.AddAfter(req, burstQuiet)
			}
		}
	}
	return handler.Funcs{
		CreateFunc:  func(ctx context.Context, e event.CreateEvent, q queue) { add(ctx, e.Object, q) },
		UpdateFunc:  func(ctx context.Context, e event.UpdateEvent, q queue) { add(ctx, e.ObjectNew, q) },
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { add(ctx, e.Object, q) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { add(ctx, e.Object, q) },
	}
}
