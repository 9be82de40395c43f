package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
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
}

// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies/finalizers,verbs=update

// Reconcile aggregates the nodes' reports into the policy's status.
func (r *MapPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var mp bpfleetv1.MapPolicy
	if err := r.Get(ctx, req.NamespacedName, &mp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	sets, err := nodeStates(ctx, r)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !mp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &mp, sets)
	}
	if err := r.ensureFinalizer(ctx, &mp); err != nil {
		return ctrl.Result{}, err
	}
	base := mp.DeepCopy()
	st := &mp.Status
	st.ObservedGeneration = mp.Generation
	if err := resolveOnce(ctx, r.Resolver, entriesImage(&mp), &st.EntriesImage); err != nil {
		setConditions(&st.Conditions, mp.Generation, resolveFailed(fmt.Errorf("entriesFrom: %w", err))...)
		return ctrl.Result{}, errors.Join(err, r.patchStatus(ctx, base, &mp))
	}
	aggregatePolicy(&mp, sets)
	return ctrl.Result{}, r.patchStatus(ctx, base, &mp)
}

// aggregatePolicy sums the nodes' reports into the policy's status.
func aggregatePolicy(mp *bpfleetv1.MapPolicy, sets []nodeState) {
	reports, usage := policyReports(mp, sets)
	sum := summarize(mp.Generation, reports)
	st := &mp.Status
	st.Nodes, st.Failures = sum.counts, sum.failures
	st.Usage = fullestFirst(usage)
	ready, reconciling, stalled := sum.conditions()
	if sum.counts.Selected == 0 {
		ready = cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonNoPrograms, "no node runs a selected program")
	}
	setConditions(&st.Conditions, mp.Generation, ready, reconciling, stalled, mapFull(mp, st.Usage))
}

// ensureFinalizer holds a policy until every node removed its entries.
func (r *MapPolicyReconciler) ensureFinalizer(ctx context.Context, mp *bpfleetv1.MapPolicy) error {
	base := mp.DeepCopy()
	if !controllerutil.AddFinalizer(mp, bpfleetv1.Finalizer) {
		return nil
	}
	return r.Patch(ctx, mp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// finalize releases a deleted policy once every node that applies it
// reports its keys removed, and no node reports it applied (a report can
// be read ahead of its set).
func (r *MapPolicyReconciler) finalize(ctx context.Context, mp *bpfleetv1.MapPolicy, sets []nodeState) error {
	if !controllerutil.ContainsFinalizer(mp, bpfleetv1.Finalizer) {
		return nil
	}
	for i := range sets {
		if appliesOn(&sets[i], mp.UID) && !removedOn(&sets[i], mp) || appliedOn(&sets[i], mp) {
			return nil // that node's report will requeue the policy
		}
	}
	base := mp.DeepCopy()
	controllerutil.RemoveFinalizer(mp, bpfleetv1.Finalizer)
	err := r.Patch(ctx, mp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	return client.IgnoreNotFound(err)
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

// policyReports maps each node that applies the policy to its report, as a
// program-like status so that summarize can add them up, and collects the
// maps' usage.
func policyReports(mp *bpfleetv1.MapPolicy, sets []nodeState) (map[string]*bpfleetv1.NodeProgramStatus, []bpfleetv1.MapUsage) {
	reports := map[string]*bpfleetv1.NodeProgramStatus{}
	var usage []bpfleetv1.MapUsage
	for i := range sets {
		set := &sets[i]
		if !appliesOn(set, mp.UID) {
			continue
		}
		reports[set.Name] = nil
		for _, ps := range set.Report.MapPolicies {
			if ps.UID != mp.UID {
				continue
			}
			reports[set.Name] = &bpfleetv1.NodeProgramStatus{
				Generation: ps.Generation, State: ps.State, Reason: ps.Reason, Message: ps.Message, Terminal: ps.Terminal,
			}
			if ps.MaxEntries > 0 {
				usage = append(usage, bpfleetv1.MapUsage{Node: set.Name, Entries: ps.Entries, MaxEntries: ps.MaxEntries})
			}
		}
	}
	return reports, usage
}

func appliesOn(set *nodeState, uid types.UID) bool {
	for _, p := range set.Spec.MapPolicies {
		if p.UID == uid {
			return true
		}
	}
	return false
}

// fullestFirst keeps the ten fullest maps.
func fullestFirst(usage []bpfleetv1.MapUsage) []bpfleetv1.MapUsage {
	sort.Slice(usage, func(i, j int) bool {
		return fill(usage[i]) > fill(usage[j]) || fill(usage[i]) == fill(usage[j]) && usage[i].Node < usage[j].Node
	})
	if len(usage) > maxFailures {
		usage = usage[:maxFailures]
	}
	return usage
}

func fill(u bpfleetv1.MapUsage) float64 { return float64(u.Entries) / float64(u.MaxEntries) }

// mapFull is True when some node's map is fuller than the warning level.
func mapFull(mp *bpfleetv1.MapPolicy, usage []bpfleetv1.MapUsage) metav1.Condition {
	limit := float64(mp.Spec.FillWarningPercent) / 100
	if len(usage) > 0 && limit > 0 && fill(usage[0]) >= limit {
		u := usage[0]
		return cond(bpfleetv1.ConditionMapFull, true, bpfleetv1.ReasonMapFull,
			fmt.Sprintf("%s holds %d of %d entries (%.0f%%, warning at %d%%)", u.Node, u.Entries, u.MaxEntries, 100*fill(u), mp.Spec.FillWarningPercent))
	}
	return cond(bpfleetv1.ConditionMapFull, false, bpfleetv1.ReasonReady, "every map is below the fill warning")
}

func (r *MapPolicyReconciler) patchStatus(ctx context.Context, base, mp *bpfleetv1.MapPolicy) error {
	if equality.Semantic.DeepEqual(base.Status, mp.Status) {
		return nil // a patch would still cost a write of the whole object
	}
	if err := r.Status().Patch(ctx, mp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	emitTransitions(r.Recorder, mp, base.Status.Conditions, mp.Status.Conditions,
		bpfleetv1.ConditionReady, bpfleetv1.ConditionStalled, bpfleetv1.ConditionMapFull)
	return nil
}

// SetupWithManager registers the reconciler: policies and the node sets
// that report on them.
func (r *MapPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("mappolicy").
		For(&bpfleetv1.MapPolicy{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&bpfleetv1.NodeProgramSet{}, handler.EnqueueRequestsFromMapFunc(policiesOnSet),
			builder.WithPredicates(changed(func(s *bpfleetv1.NodeProgramSet) any { return s.Spec.MapPolicies }))).
		Watches(&bpfleetv1.NodeProgramReport{}, handler.EnqueueRequestsFromMapFunc(policiesOnReport),
			builder.WithPredicates(changed(policiesPart))).
		Complete(r)
}

// policiesPart is what the MapPolicy reconciler reads of a report (and
// which set it is about, see capabilitiesPart).
func policiesPart(r *bpfleetv1.NodeProgramReport) any {
	return []any{metav1.GetControllerOf(r), r.Status.MapPolicies}
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
