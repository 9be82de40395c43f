package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// agentSilentAfter is how long a node's agent may go without a sync (it
// syncs at least once a minute) before the operator stops waiting for it:
// its node counts as pending, and it no longer holds deletions back. A
// silent agent that comes back prunes whatever it is no longer asked to run.
const agentSilentAfter = 3 * time.Minute

// silent reports whether set's agent has not synced for agentSilentAfter
// (or never did, in a set that old) at now. Pure.
func silent(set *bpfleetv1.NodeProgramSet, now time.Time) bool {
	last := set.CreationTimestamp.Time
	if set.Status.LastSync != nil {
		last = set.Status.LastSync.Time
	}
	return now.Sub(last) > agentSilentAfter
}

// setChanged passes the updates of a NodeProgramSet in which the part a
// reconciler reads changed (not, say, only the agent's LastSync beat).
func setChanged(part func(*bpfleetv1.NodeProgramSet) any) predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*bpfleetv1.NodeProgramSet)
		cur, curOK := e.ObjectNew.(*bpfleetv1.NodeProgramSet)
		return !oldOK || !curOK || !equality.Semantic.DeepEqual(part(old), part(cur))
	}}
}

// programsPart is what program status is made of.
func programsPart(s *bpfleetv1.NodeProgramSet) any {
	return []any{s.Spec.Programs, s.Status.Programs, s.Status.Capabilities}
}

// policiesPart is what MapPolicy status is made of.
func policiesPart(s *bpfleetv1.NodeProgramSet) any {
	return []any{s.Spec.MapPolicies, s.Status.MapPolicies}
}
