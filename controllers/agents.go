package controllers

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
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
// renewal of its Lease within the Lease's duration, and no report within
// agentSilentAfter (nor, if it never reported, creation of its set).
// lease may be nil. Pure.
func silent(set *nodeState, lease *coordinationv1.Lease, now time.Time) bool {
	last := set.CreationTimestamp.Time
	if set.Report.LastSync != nil {
		last = set.Report.LastSync.Time
	}
	if now.Sub(last) <= agentSilentAfter {
		return false
	}
	return lease == nil || expired(lease, now)
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

// agentLeases are the agents' Leases in namespace, by node name. The map
// holds cache objects: read-only.
func agentLeases(ctx context.Context, c client.Reader, namespace string) (map[string]*coordinationv1.Lease, error) {
	var list coordinationv1.LeaseList
	err := c.List(ctx, &list, client.InNamespace(namespace), client.HasLabels{bpfleetv1.AgentLeaseLabel}, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, fmt.Errorf("list agent leases: %w", err)
	}
	out := make(map[string]*coordinationv1.Lease, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
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
