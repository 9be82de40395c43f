package controllers

import (
	"cmp"
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// MapPolicyReconciler reports each MapPolicy's state from the nodes that
// apply it. (Which nodes apply it, NodeReconciler decides.)
type MapPolicyReconciler struct {
	client.Client
	// Resolver resolves entriesFrom references to digests.
	Resolver Resolver
	Recorder recorder.EventRecorder
	// SecretNamespaces are where the Secrets a policy names may be.
	SecretNamespaces SecretNamespaces
	// StalledRetry is how often a policy stalled on its registry (entries
	// artifact not found, unauthorized) is tried again; 0: 5 minutes.
	StalledRetry time.Duration

	// Uninstalling reports whether the kind's CRD is being deleted (nil:
	// never; see UninstallReconciler).
	Uninstalling func() bool

	skeleton *skeleton[*bpfleetv1.MapPolicy]
}

// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies/finalizers,verbs=update

// Reconcile resolves the policy's entries artifact and aggregates the
// nodes' reports into its status.
func (r *MapPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.skeleton.reconcile(ctx, req, r.finalize, r.resolveEntries, r.checkMaps, r.aggregate)
}

// newSkeleton is the reconcile path of MapPolicies.
func (r *MapPolicyReconciler) newSkeleton() *skeleton[*bpfleetv1.MapPolicy] {
	return &skeleton[*bpfleetv1.MapPolicy]{
		client: r.Client, recorder: r.Recorder, uninstalling: r.Uninstalling, newObject: func() *bpfleetv1.MapPolicy { return &bpfleetv1.MapPolicy{} },
		status: func(mp *bpfleetv1.MapPolicy) statusView {
			return statusView{whole: &mp.Status, conditions: &mp.Status.Conditions, observedGeneration: &mp.Status.ObservedGeneration}
		},
		announce: []string{bpfleetv1.ConditionReady, bpfleetv1.ConditionStalled, bpfleetv1.ConditionMapFull},
		retry:    stalledRetry{after: cmp.Or(r.StalledRetry, defaultStalledRetry)},
	}
}

// resolveEntries resolves a new entriesFrom reference once and records
// the digest.
func (r *MapPolicyReconciler) resolveEntries(ctx context.Context, mp *bpfleetv1.MapPolicy) error {
	if err := resolveOnce(ctx, r.Resolver, r.SecretNamespaces, entriesImage(mp), &mp.Status.EntriesImage); err != nil {
		return fmt.Errorf("entriesFrom: %w", err)
	}
	return nil
}

// checkMaps refuses a policy whose map the image of a program it selects
// lacks (checkPolicyMaps).
func (r *MapPolicyReconciler) checkMaps(ctx context.Context, mp *bpfleetv1.MapPolicy) error {
	programs, err := allPrograms(ctx, r)
	if err != nil {
		return err
	}
	return checkPolicyMaps(ctx, r.Resolver, mp, programs)
}

// aggregate sums the nodes' reports into the policy's status.
func (r *MapPolicyReconciler) aggregate(ctx context.Context, mp *bpfleetv1.MapPolicy) error {
	sets, err := statesHolding(ctx, r, policiesHeld, mp.UID)
	if err != nil {
		return err
	}
	aggregatePolicy(mp, sets)
	return nil
}

// finalize waits until every node that applies the deleted policy reports
// its keys removed, and no node reports it applied (a report can be read
// ahead of its set). Those nodes' reports requeue the policy.
func (r *MapPolicyReconciler) finalize(ctx context.Context, mp *bpfleetv1.MapPolicy) error {
	sets, err := statesHolding(ctx, r, policiesHeld, mp.UID)
	if err != nil {
		return err
	}
	left := 0
	for i := range sets {
		if appliesOn(&sets[i], mp.UID) && !removedOn(&sets[i], mp) || appliedOn(&sets[i], mp) {
			left++
		}
	}
	if left > 0 {
		return waiting(bpfleetv1.ReasonDeleting, 0, fmt.Sprintf("removing its entries from %d nodes", left))
	}
	return nil
}

func removedOn(set *nodeState, mp *bpfleetv1.MapPolicy) bool {
	for _, ps := range set.Report.MapPolicies {
		if ps.UID == mp.UID && ps.State == bpfleetv1.StateUnloading && ps.Reason == bpfleetv1.ReasonRemoved {
			return true
		}
	}
	return false
}

// appliedOn reports whether set's node reports the policy's entries in
// its maps (in any state but Unloading).
func appliedOn(set *nodeState, mp *bpfleetv1.MapPolicy) bool {
	for _, ps := range set.Report.MapPolicies {
		if ps.UID == mp.UID && ps.State != bpfleetv1.StateUnloading {
			return true
		}
	}
	return false
}

func appliesOn(set *nodeState, uid types.UID) bool {
	for _, p := range set.Spec.MapPolicies {
		if p.UID == uid {
			return true
		}
	}
	return false
}

// SetupWithManager registers the reconciler: policies and the node sets
// that report on them.
func (r *MapPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.skeleton = r.newSkeleton()
	b := ctrl.NewControllerManagedBy(mgr).Named("mappolicy")
	// A program's new image is checked against the policies that
	// select it (checkMaps).
	for _, k := range Kinds {
		b = b.Watches(k.New(), handler.EnqueueRequestsFromMapFunc(r.policiesSelecting(k.Name)),
			builder.WithPredicates(changed(func(p bpfleetv1.Program) any { return p.ProgramStatus().Image })))
	}
	return b.
		For(&bpfleetv1.MapPolicy{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&bpfleetv1.NodeProgramSet{}, handler.EnqueueRequestsFromMapFunc(policiesOnSet),
			builder.WithPredicates(changed(func(s *bpfleetv1.NodeProgramSet) any { return s.Spec.MapPolicies }))).
		Watches(&bpfleetv1.NodeProgramReport{}, handler.EnqueueRequestsFromMapFunc(policiesOnReport),
			builder.WithPredicates(changed(policiesPart))).
		WatchesRawSource(r.skeleton.retry.source()).
		Complete(r)
}

// policiesPart is what the MapPolicy reconciler reads of a report (and
// which set it is about, see capabilitiesPart).
func policiesPart(r *bpfleetv1.NodeProgramReport) any {
	return []any{metav1.GetControllerOf(r), r.Status.MapPolicies}
}

// policiesSelecting maps a program of kind to the policies that select
// it.
func (r *MapPolicyReconciler) policiesSelecting(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list bpfleetv1.MapPolicyList
		if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "list map policies")
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			if policySelects(&list.Items[i], kind, o.(bpfleetv1.Program)) {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}})
			}
		}
		return reqs
	}
}

func policiesOnSet(_ context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, p := range o.(*bpfleetv1.NodeProgramSet).Spec.MapPolicies {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
	}
	return reqs
}

func policiesOnReport(_ context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, p := range o.(*bpfleetv1.NodeProgramReport).Status.MapPolicies {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
	}
	return reqs
}
