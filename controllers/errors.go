package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// An error a reconcile step returns is of one of three classes. This file
// maps each, once, to the resource's conditions and to what
// controller-runtime does next:
//
//   - terminal: only a change of spec, or outside the cluster (an image
//     pushed, credentials fixed at the registry), ends it. Stalled=True
//     with its reason, Ready=False, Reconciling=False; returned as a
//     reconcile.TerminalError and tried again slowly (stalledRetry).
//   - waiting: the operator waits on nodes or their agents. Reconciling=True
//     with its reason, Ready=False; looked at again after a while, or on
//     the watch event that ends the wait.
//   - transient: anything else. Returned as it is, for the workqueue's
//     backoff; with a reason, Ready=False and Reconciling=True say so.
//
// Only errors made here (classError) change conditions: an error without
// one (a cache list that failed) leaves the status as it was.
type errorClass int

const (
	classTransient errorClass = iota
	classWaiting
	classTerminal
)

// classError is an error with its class and the reasons of the conditions
// it sets.
type classError struct {
	class errorClass
	// reason is Stalled's (terminal) or Reconciling's reason.
	reason string
	// ready is Ready's reason: the step that failed.
	ready string
	// after is when a waiting resource is looked at again (0: its watch
	// events end the wait).
	after time.Duration
	err   error
}

// Error is the message of the error classified.
func (e *classError) Error() string { return e.err.Error() }

// Unwrap is the error classified.
func (e *classError) Unwrap() error { return e.err }

// waiting is a wait on nodes or agents, said by msg, looked at again after
// after (0: when a watch event comes).
func waiting(reason string, after time.Duration, msg string) error {
	return &classError{class: classWaiting, reason: reason, ready: reason, after: after, err: errors.New(msg)}
}

// resolveError classifies a failed image resolution. Ready's reason is
// ResolveFailed whatever the cause; Stalled's says what to fix: the
// reference (InvalidSpec), the registry's content (ImageNotFound) or the
// credentials (ImageUnauthorized). Anything else (connection refused, a
// 5xx, a pull secret not there yet) is transient: ResolveFailed, with
// backoff.
func resolveError(err error) error {
	e := &classError{class: classTerminal, ready: bpfleetv1.ReasonResolveFailed, err: err}
	switch {
	case errors.Is(err, oci.ErrInvalidReference):
		e.reason = bpfleetv1.ReasonInvalidSpec
	case errors.Is(err, oci.ErrNotFound):
		e.reason = bpfleetv1.ReasonImageNotFound
	case errors.Is(err, oci.ErrUnauthorized):
		e.reason = bpfleetv1.ReasonImageUnauthorized
	default:
		e.class, e.reason = classTransient, bpfleetv1.ReasonResolveFailed
	}
	return e
}

// classOf is the classError that says what err means (nil: a transient
// error of no reason).
func classOf(err error) *classError {
	var ce *classError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// errorConditions are the Ready, Reconciling and Stalled conditions of an
// error of class ce, said by msg.
func errorConditions(ce *classError, msg string) []metav1.Condition {
	ready := cond(bpfleetv1.ConditionReady, false, ce.ready, msg)
	if ce.class == classTerminal {
		return []metav1.Condition{ready, notReconciling(), cond(bpfleetv1.ConditionStalled, true, ce.reason, msg)}
	}
	return []metav1.Condition{ready, cond(bpfleetv1.ConditionReconciling, true, ce.reason, msg), notStalled()}
}

// result is what a reconcile that ended in err tells controller-runtime;
// resync is when a resource reconciled without error is looked at again
// (0: on its events only), and retry schedules the slow retry of a
// terminal error. A wait is no failure: its Reconciling condition says
// what it waits for.
func result(err error, resync time.Duration, retry func()) (ctrl.Result, error) {
	ce := classOf(err)
	switch {
	case err == nil:
		return ctrl.Result{RequeueAfter: resync}, nil
	case ce == nil:
		return ctrl.Result{}, err
	case ce.class == classWaiting:
		return ctrl.Result{RequeueAfter: ce.after}, nil
	case ce.class == classTerminal:
		retry()
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, err
}

// stalledRetry reconciles again, after a while, the requests whose
// reconcile ended in a terminal error.
//
// controller-runtime never requeues a reconcile.TerminalError, and drops
// the Result returned with it. Yet a terminal error here can end without
// any event the operator would hear of: the image pushed to the registry
// later, the credentials fixed there. The other ways out are worse:
// returned plain, the error is retried with the workqueue's exponential
// backoff, from milliseconds (a burst of requests to a registry that said
// "not found"); turned into RequeueAfter with a nil error, it vanishes
// from controller_runtime_reconcile_errors_total. So the error is returned
// as terminal (counted there and in
// controller_runtime_terminal_reconcile_errors_total, logged once per
// attempt) and the request is added back to the controller's own queue
// after a delay, as RequeueAfter would have done. The queue keeps the
// earliest delay of an item, so repeated terminal errors do not pile up,
// and an event (a spec change) still reconciles at once.
type stalledRetry struct {
	after time.Duration
	// queue is the controller's, handed over when it starts (source).
	queue atomic.Pointer[requestQueue]
}

type requestQueue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// source hands the controller's queue to r when the controller starts; it
// sends no events of its own.
func (r *stalledRetry) source() source.Source {
	return source.Func(func(_ context.Context, q requestQueue) error {
		r.queue.Store(&q)
		return nil
	})
}

// schedule adds req back to the controller's queue after r.after.
func (r *stalledRetry) schedule(req reconcile.Request) {
	if q := r.queue.Load(); q != nil {
		(*q).AddAfter(req, r.after)
	}
}
