package controllers

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// agentSilentAfter is how long a node's agent may go without a sign of
// life before the operator stops waiting for it, unless its Lease says
// otherwise: its node counts as pending, and it no longer holds deletions
// back. A silent agent that comes back prunes whatever it is no longer
// asked to run.
const agentSilentAfter = 3 * time.Minute

// silent reports whether set's agent has given no sign of life at now: no
// report within agentSilentAfter (reportedWithin), and no renewal of its
// Lease within the Lease's duration. lease may be nil (none); it is looked
// at only where the agent did not report within agentSilentAfter. Pure.
func silent(set *nodeState, lease *coordinationv1.Lease, now time.Time) bool {
	if reportedWithin(set, now) {
		return false
	}
	return lease == nil || expired(lease, now)
}

// reportedWithin reports whether set's agent reported within
// agentSilentAfter of now (or, if it never reported, its set was made
// within it): it is not silent then, whatever its Lease says. Pure.
func reportedWithin(set *nodeState, now time.Time) bool {
	last := set.CreationTimestamp.Time
	if set.Report.LastSync != nil {
		last = set.Report.LastSync.Time
	}
	return now.Sub(last) <= agentSilentAfter
}

// expired reports whether lease was not renewed within its duration at
// now (agentSilentAfter if it names none; never renewed: expired). Pure.
func expired(lease *coordinationv1.Lease, now time.Time) bool {
	if lease.Spec.RenewTime == nil {
		return true
	}
	within := agentSilentAfter
	if d := lease.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
		within = time.Duration(*d) * time.Second
	}
	return now.Sub(lease.Spec.RenewTime.Time) > within
}

// The operator reads the agents' Leases from its cache, which holds only
// those (see leaseCache), by the Role below.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=bpfleet-system,resources=leases,verbs=get;list;watch

// agentLease is the Lease of node's agent in namespace, or nil if it has
// none. It comes from the cache: read-only.
func agentLease(ctx context.Context, c client.Reader, namespace, node string) (*coordinationv1.Lease, error) {
	var lease coordinationv1.Lease
	err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: node}, &lease, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent lease %s/%s: %w", namespace, node, err)
	}
	return &lease, nil
}

// silenceLease is the Lease silent needs to judge set's agent at now: nil,
// without a read, where the agent reported within agentSilentAfter (a
// program pass reads no Lease of a node that reports).
func silenceLease(ctx context.Context, c client.Reader, namespace string, set *nodeState, now time.Time) (*coordinationv1.Lease, error) {
	if reportedWithin(set, now) {
		return nil, nil
	}
	return agentLease(ctx, c, namespace, set.Name)
}

// agentReturned passes the Lease events that can end an agent's silence
// or start one: a Lease made or deleted, and a renewal after it had
// expired; not the routine renewals (a thousand nodes renew about 20 a
// second).
func agentReturned() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*coordinationv1.Lease)
		cur, curOK := e.ObjectNew.(*coordinationv1.Lease)
		if !oldOK || !curOK || cur.Spec.RenewTime == nil {
			return true
		}
		return expired(old, cur.Spec.RenewTime.Time)
	}}
}

// leaseCache restricts the operator's cache of Leases to the agents' in
// namespace (a cluster holds a Lease per node for the kubelet, and more).
func leaseCache(namespace string) cache.ByObject {
	marked, _ := labels.NewRequirement(bpfleetv1.AgentLeaseLabel, selection.Exists, nil)
	return cache.ByObject{
		Namespaces: map[string]cache.Config{namespace: {}},
		Label:      labels.NewSelector().Add(*marked),
	}
}

// trimReport is how the operator's cache holds a report: without the
// managed fields, and without what each entry says for the node's users
// only (program ID, pin path, links, maps, run statistics), which the operator never
// reads. At 5,000 nodes × 100 programs those were most of what the
// cache held. What is left of an application's per-program statuses is
// the same on every node where it runs alike, and shared
// (reportedPrograms).
func trimReport(o any) (any, error) {
	o, err := cache.TransformStripManagedFields()(o)
	if report, ok := o.(*bpfleetv1.NodeProgramReport); ok {
		for i := range report.Status.Programs {
			e := &report.Status.Programs[i]
			e.ProgramID, e.PinPath, e.Objects, e.RunStats = 0, "", bpfleetv1.KernelObjects{}, nil
			for j := range e.Programs {
				e.Programs[j].ProgramID, e.Programs[j].Links, e.Programs[j].RunStats = 0, nil, nil
			}
			e.Programs = reportedPrograms.share(e.Programs)
		}
	}
	return o, err
}

// changed passes the updates of an object in which the part a reconciler
// reads changed (the map policies, say, when only the programs' reports
// changed).
func changed[T client.Object](part func(T) any) predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(T)
		cur, curOK := e.ObjectNew.(T)
		return !oldOK || !curOK || !equality.Semantic.DeepEqual(part(old), part(cur))
	}}
}
