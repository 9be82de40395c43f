package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// defaultStalledRetry is how often a resource stalled on its registry is
// tried again (Options.StalledRetry).
const defaultStalledRetry = 5 * time.Minute

// skeleton is the one reconcile path of the resources the operator
// reports on (programs of every kind, MapPolicies), in the shape of
// fluxcd/source-controller's: fetch → snapshot → the named steps, each
// returning an error, or the deletion step → one deferred place that
// summarizes the error into conditions, hands what changed to the node
// passes (see ahead), adds the finalizer, patches the status and says
// what next (errors.go). It holds no state of a request.
type skeleton[T client.Object] struct {
	client    client.Client
	recorder  recorder.EventRecorder
	newObject func() T
	// status is the part of T's status the skeleton writes.
	status func(T) statusView
	// announce are the condition types whose transitions are Events.
	announce []string
	// resync is when a resource reconciled without error is looked at
	// again (0: on its events only).
	resync time.Duration
	retry  stalledRetry
	// handOver gives node passes what a reconcile changed before it is
	// written, and returns what withdraws it, and whether its writes may
	// wait for the nodes' reports (see ahead); nil: nothing is handed
	// over.
	handOver func(from, cur T) (hold bool, withdraw func())
	// stored runs once a live object's status is stored as obj holds it
	// (nil: nothing does): what the status no longer names may go.
	stored step[T]
	// uninstalling reports whether T's CRD is being deleted (nil: never):
	// its objects then get no finalizer, and are released without waiting
	// for the nodes (see UninstallReconciler).
	uninstalling func() bool
}

// statusView is what the skeleton reads and writes of a status.
type statusView struct {
	// whole is the status, compared with the snapshot's: an unchanged
	// status is not patched.
	whole              any
	conditions         *[]metav1.Condition
	observedGeneration *int64
}

// step is one named part of a reconcile: it changes the object's status
// in memory, and says by its error what stopped it (errors.go).
type step[T client.Object] func(ctx context.Context, obj T) error

// reconcile runs the steps on the live object req names, or finalize on a
// deleted one that still holds the finalizer; once finalize returns nil,
// nothing holds the object any more and the finalizer goes. A live
// object's finalizer is added after its steps ran, with their result
// handed over already: nothing a node runs waits on that write, and a
// program deleted before it lands is taken off every node all the same
// (ahead).
func (s *skeleton[T]) reconcile(ctx context.Context, req ctrl.Request, finalize step[T], steps ...step[T]) (res ctrl.Result, err error) {
	obj, ok, err := s.fetch(ctx, req)
	if !ok || err != nil {
		return ctrl.Result{}, err
	}
	base := obj.DeepCopyObject().(T)
	defer func() { res, err = s.summarizeAndPatch(ctx, req, base, obj, err) }()
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, s.release(ctx, obj, finalize)
	}
	for _, step := range steps {
		if err := step(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// fetch reads the object req names. ok is false when there is nothing to
// do: the object is gone, or deleted and released.
func (s *skeleton[T]) fetch(ctx context.Context, req ctrl.Request) (obj T, ok bool, err error) {
	obj = s.newObject()
	if err := s.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return obj, false, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return obj, controllerutil.ContainsFinalizer(obj, bpfleetv1.Finalizer), nil
	}
	return obj, true, nil
}

// addFinalizer adds the finalizer to base, the live object as fetched,
// if it lacks it, and moves base and obj, its changed copy, to the
// version written.
func (s *skeleton[T]) addFinalizer(ctx context.Context, base, obj T) error {
	written := base.DeepCopyObject().(T)
	if !controllerutil.AddFinalizer(written, bpfleetv1.Finalizer) {
		return nil
	}
	if err := s.client.Patch(ctx, written, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	// The lock made the write apply to base as it was: base plus the
	// finalizer is what is stored now.
	for _, o := range []T{base, obj} {
		o.SetFinalizers(written.GetFinalizers())
		o.SetResourceVersion(written.GetResourceVersion())
	}
	return nil
}

// release removes the finalizer of a deleted object once finalize says
// that nothing holds it any more.
func (s *skeleton[T]) release(ctx context.Context, obj T, finalize step[T]) error {
	if !s.kindDeleted() {
		if err := finalize(ctx, obj); err != nil {
			return err
		}
	}
	base := obj.DeepCopyObject().(T)
	controllerutil.RemoveFinalizer(obj, bpfleetv1.Finalizer)
	if err := s.client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove finalizer: %w", err)
	}
	s.recorder.Eventf(obj, nil, corev1.EventTypeNormal, bpfleetv1.ReasonDeleting, "Unload", "unloaded from every node")
	return nil
}

// kindDeleted reports whether T's CRD is being deleted.
func (s *skeleton[T]) kindDeleted() bool {
	return s.uninstalling != nil && s.uninstalling()
}

// summarizeAndPatch is where every reconcile ends: the conditions of err's
// class and the observed generation go into the status, what changed is
// handed to the node passes (the writes below may then wait for the next
// reconcile, see ahead), the status is patched if it changed, a live
// object gets the finalizer and its stored step, and err becomes what
// controller-runtime does next.
func (s *skeleton[T]) summarizeAndPatch(ctx context.Context, req ctrl.Request, base, obj T, err error) (ctrl.Result, error) {
	s.summarize(obj, err)
	live := obj.GetDeletionTimestamp().IsZero()
	if live && s.handOver != nil {
		hold, withdraw := s.handOver(base, obj)
		if hold && err == nil {
			// The reconcile the nodes' reports start (or this one
			// again) writes the status and the finalizer.
			return ctrl.Result{RequeueAfter: holdWrites}, nil
		}
		defer withdraw()
	}
	// The status first: what a user waits for (Ready) does not wait for
	// the finalizer's write.
	if perr := s.patchStatus(ctx, base, obj); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	if live && !s.kindDeleted() {
		base.SetResourceVersion(obj.GetResourceVersion()) // as the status write left it
		if ferr := s.addFinalizer(ctx, base, obj); ferr != nil {
			return ctrl.Result{}, errors.Join(err, ferr)
		}
		if s.stored != nil {
			if serr := s.stored(ctx, obj); serr != nil {
				return ctrl.Result{}, errors.Join(err, serr)
			}
		}
	}
	return result(err, s.resync, func() { s.retry.schedule(req) })
}

// summarize writes the conditions of a classified error, and the
// generation the status now describes: that of a live object whose steps
// all ran, or whose error set its conditions. An error of no class (a
// failed cache read) leaves the status as it was.
func (s *skeleton[T]) summarize(obj T, err error) {
	ce := classOf(err)
	live := obj.GetDeletionTimestamp().IsZero()
	if ce == nil && (err != nil || !live) {
		return
	}
	v := s.status(obj)
	*v.observedGeneration = obj.GetGeneration()
	if ce != nil {
		setConditions(v.conditions, obj.GetGeneration(), errorConditions(ce, err.Error())...)
	}
}

// patchStatus writes the status if it changed, and emits an Event for each
// announced condition that changed.
func (s *skeleton[T]) patchStatus(ctx context.Context, base, obj T) error {
	before, after := s.status(base), s.status(obj)
	if equality.Semantic.DeepEqual(before.whole, after.whole) {
		return nil // a patch would still cost a write of the whole object
	}
	// The base comes from the cache: the lock makes a stale base fail (and
	// requeue) instead of sending a patch that misses a change.
	if err := s.client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	emitTransitions(s.recorder, obj, *before.conditions, *after.conditions, s.announce...)
	return nil
}
