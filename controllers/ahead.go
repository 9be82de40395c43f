package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Node passes do not wait for the operator's own writes of a program. A
// program reconcile that changes what nodes run (it resolved the image's
// digest, or moved the rollout) hands the program, as it holds it in
// memory, to the node passes it starts at once, and writes the finalizer
// and the status only in the next reconcile (holdWrites at the latest),
// which the nodes' reports usually start: each of those writes, and its
// event coming back through the informer, cost a lone change a few
// milliseconds before, and the API server took them while the agents
// loaded the program and wrote their reports; held, the status is
// written once, with what the nodes reported (docs/benchmarks.md).
//
// What is handed over is what the status write would have said, so the
// nodes are asked for nothing the status will not hold, unless that write
// fails; then the next reconcile plans from what the nodes were asked
// (each node's set says it). A program deleted before its finalizer
// landed is gone from the cache: no pass reads what was handed over for
// it, and the pass its deletion starts takes it off every node.
type ahead struct {
	mu sync.Mutex
	// programs holds what was handed over, by UID, until a reconcile has
	// written the status.
	programs map[types.UID]handedOver
	// held holds, by UID, the generation whose writes a reconcile held
	// (once per generation and hand-over: the next one writes).
	held map[types.UID]int64
	// passes starts node passes (NodeReconciler reads it).
	passes chan event.GenericEvent
}

// handedOver is a program as a reconcile holds it, the cached version it
// started from, and when it was handed over.
type handedOver struct {
	program, from bpfleetv1.Program
	at            time.Time
}

// holdWrites is how long a reconcile that handed a program over leaves
// its writes to the reconcile the nodes' reports start; then it writes
// them itself.
const holdWrites = 200 * time.Millisecond

// handOverTTL bounds how long what was handed over is kept without a
// reconcile handing it over again: a program deleted while its writes
// were held leaves no reconcile to withdraw it.
const handOverTTL = time.Minute

// newAhead makes the hand-over of programs to node passes.
func newAhead() *ahead {
	return &ahead{programs: map[types.UID]handedOver{}, held: map[types.UID]int64{}, passes: make(chan event.GenericEvent, 1024)}
}

// handOver gives node passes cur, a program reconcile's in-memory version
// of from, if it changes what nodes run, and starts them. hold says the
// reconcile may leave its writes to the next one (the first hand-over of
// a generation since the last write); the returned func withdraws what was
// handed over once the status is written. a may be nil: nothing is
// handed over.
func (a *ahead) handOver(from, cur bpfleetv1.Program) (hold bool, withdraw func()) {
	if a == nil {
		return false, func() {}
	}
	uid, gen := cur.GetUID(), cur.GetGeneration()
	withdraw = func() { a.forget(uid) }
	if !scheduleDiffers(from, cur) {
		return false, withdraw // what an earlier reconcile held, if any
	}
	now := time.Now()
	a.mu.Lock()
	for old, h := range a.programs {
		if now.Sub(h.at) > handOverTTL {
			delete(a.programs, old)
			delete(a.held, old)
		}
	}
	a.programs[uid] = handedOver{program: cur.DeepCopyObject().(bpfleetv1.Program), from: from.DeepCopyObject().(bpfleetv1.Program), at: now}
	held, ok := a.held[uid]
	hold = !ok || held != gen
	a.held[uid] = gen
	a.mu.Unlock()
	select {
	case a.passes <- event.GenericEvent{Object: cur.DeepCopyObject().(client.Object)}:
	default: // the status write's event starts them
	}
	return hold, withdraw
}

// forget withdraws what was handed over for uid.
func (a *ahead) forget(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.programs, uid)
	delete(a.held, uid)
}

// current is the program a node pass reads for p, the cache's: what was
// handed over for it while the cache still holds the version the hand-over
// started from (same generation, same schedule), else p.
func (a *ahead) current(p bpfleetv1.Program) bpfleetv1.Program {
	if a == nil {
		return p
	}
	a.mu.Lock()
	h, ok := a.programs[p.GetUID()]
	a.mu.Unlock()
	if !ok || scheduleDiffers(h.from, p) {
		return p
	}
	return h.program
}

// scheduleDiffers reports whether cur differs from old in what can change
// what a node runs: its spec, its deletion, its resolved digest or its
// rollout, not the node counts every agent's report moves.
func scheduleDiffers(old, cur bpfleetv1.Program) bool {
	return old.GetGeneration() != cur.GetGeneration() ||
		!old.GetDeletionTimestamp().Equal(cur.GetDeletionTimestamp()) ||
		!equality.Semantic.DeepEqual(old.ProgramStatus().Image, cur.ProgramStatus().Image) ||
		!equality.Semantic.DeepEqual(rolloutDecision(old), rolloutDecision(cur))
}
