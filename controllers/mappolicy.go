package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// policySelects reports whether a MapPolicy applies to a program of kind:
// a cluster-scoped one (a team's BpfApplication is its own). Pure.
func policySelects(mp *bpfleetv1.MapPolicy, kind string, p bpfleetv1.Program) bool {
	if p.GetNamespace() != "" {
		return false
	}
	sel := mp.Spec.Programs
	for _, ref := range sel.Refs {
		if string(ref.Kind) == kind && ref.Name == p.GetName() {
			return true
		}
	}
	if sel.Selector == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel.Selector)
	return err == nil && s.Matches(labels.Set(p.GetLabels()))
}

// mapConfigs are the map settings the policies give a program before load.
// When two policies configure the same map, the oldest wins (policies come
// sorted by byAge), so the node spec, and the program, stay stable. While
// a policy that selects the program is not accepted (policyVerdict), the
// settings of its node entry (old) that no accepted policy gives stay as
// they are: what that policy gave when it was last accepted is among
// them, and a setting dropped would reload the program with its map
// resized or unshared.
func mapConfigs(kind string, p bpfleetv1.Program, policies []bpfleetv1.MapPolicy, old *bpfleetv1.NodeProgram) []bpfleetv1.MapConfig {
	var out []bpfleetv1.MapConfig
	seen := map[string]bool{}
	held := false
	for i := range policies {
		mp := &policies[i]
		if !mp.DeletionTimestamp.IsZero() || !policySelects(mp, kind, p) {
			continue
		}
		if policyVerdict(mp) != policyAccepted {
			held = true
			continue
		}
		if seen[mp.Spec.MapName] {
			continue
		}
		seen[mp.Spec.MapName] = true
		if c := mapConfig(mp); c.MaxEntries != 0 || c.Shared != "" {
			out = append(out, c)
		}
	}
	if held && old != nil {
		out = append(out, heldConfigs(old.Maps, seen)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mapConfig is the setting a policy gives its map.
func mapConfig(mp *bpfleetv1.MapPolicy) bpfleetv1.MapConfig {
	c := bpfleetv1.MapConfig{Name: mp.Spec.MapName, Shared: sharedName(mp)}
	if mp.Spec.MaxEntries != nil {
		c.MaxEntries = *mp.Spec.MaxEntries
	}
	return c
}

// heldConfigs are the settings of configs for maps not in given.
func heldConfigs(configs []bpfleetv1.MapConfig, given map[string]bool) []bpfleetv1.MapConfig {
	var out []bpfleetv1.MapConfig
	for _, c := range configs {
		if !given[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// verdict is what the operator's check made of a MapPolicy's spec.
type verdict int

const (
	// policyPending: the current generation is not checked yet.
	policyPending verdict = iota
	// policyAccepted: the current generation passed the image checks.
	policyAccepted
	// policyRefused: the image checks refused the last generation
	// checked (checkPolicyMaps).
	policyRefused
)

// policyVerdict reads the verdict of the MapPolicy reconciler from the
// policy's status: Stalled for a reason of the image checks is refused,
// a status that observed the current generation otherwise is accepted.
// Pure.
func policyVerdict(mp *bpfleetv1.MapPolicy) verdict {
	c := meta.FindStatusCondition(mp.Status.Conditions, bpfleetv1.ConditionStalled)
	refused := c != nil && c.Status == metav1.ConditionTrue &&
		(c.Reason == bpfleetv1.ReasonImageMismatch || c.Reason == bpfleetv1.ReasonMapNotWritable)
	switch {
	case refused && (c.ObservedGeneration == mp.Generation || !mp.DeletionTimestamp.IsZero()):
		return policyRefused
	case mp.Status.ObservedGeneration == mp.Generation:
		return policyAccepted
	}
	return policyPending
}

// byAge sorts policies oldest first, by name among equals.
func byAge(policies []bpfleetv1.MapPolicy) {
	sort.Slice(policies, func(i, j int) bool {
		a, b := policies[i], policies[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// sharedName names a policy's node-wide map, or "" for unshared maps. The
// size is part of the name: a resize makes a new shared map that programs
// move to one by one, while the others keep the old one.
func sharedName(mp *bpfleetv1.MapPolicy) string {
	switch {
	case !mp.Spec.Shared:
		return ""
	case mp.Spec.MaxEntries != nil:
		return fmt.Sprintf("%s-%d", mp.Name, *mp.Spec.MaxEntries)
	}
	return mp.Name
}

// checkPassPolicies checks again, as a node pass sees them, the policies
// their reconciler accepted (policyVerdict), against the images of the
// programs this pass schedules (checkPolicyMaps; the images were read
// when the programs were checked, so this reads no registry but on a
// cold cache): a program's new digest is handed to node passes before
// its status is written, and so before the policy's reconciler sees it.
// A policy they refuse is marked refused in policies (a copy: the list
// holds the cache's objects), as its reconciler will mark it, so that no
// node gets it.
func (r *NodeReconciler) checkPassPolicies(ctx context.Context, policies []bpfleetv1.MapPolicy, programs []KindedProgram) {
	for i := range policies {
		mp := &policies[i]
		if !mp.DeletionTimestamp.IsZero() || policyVerdict(mp) != policyAccepted {
			continue
		}
		var ce *classError
		if err := checkPolicyMaps(ctx, r.Resolver, mp, programs); errors.As(err, &ce) {
			refused := mp.DeepCopy()
			meta.SetStatusCondition(&refused.Status.Conditions, metav1.Condition{Type: bpfleetv1.ConditionStalled,
				Status: metav1.ConditionTrue, Reason: ce.reason, Message: err.Error(), ObservedGeneration: mp.Generation})
			policies[i] = *refused
		}
	}
}

// nodeMapPolicies are the policies with entries for the programs a node
// runs. A policy whose new entries artifact is not resolved yet keeps the
// entry the node already has (current), so a change of tag never leaves
// the map without its entries. So does a policy whose current generation
// the operator has not accepted (policyVerdict): a refused policy never
// reaches a node, and one edited into a refused spec stays on the nodes
// as it was last accepted — its entries stay in the maps, as a user who
// made a typo expects, until a spec is accepted or the policy is deleted
// (then the kept entry is sent as removing, so that its keys go). Pure.
func nodeMapPolicies(policies []bpfleetv1.MapPolicy, programs []KindedProgram, onNode []bpfleetv1.NodeProgram, current []bpfleetv1.NodeMapPolicy, cluster *bpfleetv1.ImageVerification) []bpfleetv1.NodeMapPolicy {
	running := map[types.UID]bool{}
	for _, np := range onNode {
		running[np.UID] = true
	}
	var out []bpfleetv1.NodeMapPolicy
	for i := range policies {
		mp := &policies[i]
		deleting := !mp.DeletionTimestamp.IsZero()
		if deleting && !controllerutil.ContainsFinalizer(mp, bpfleetv1.Finalizer) {
			continue
		}
		if deleting && policyVerdict(mp) != policyAccepted {
			// What the node applied goes, not an edit never checked.
			out = append(out, removing(atGeneration(currentPolicy(current, mp.UID), mp.Generation), true)...)
			continue
		}
		if heldPolicy(mp, deleting) {
			out = append(out, removing(currentPolicy(current, mp.UID), deleting)...)
			continue
		}
		if nmp, ok := nodeMapPolicy(mp, programs, running, cluster); ok {
			out = append(out, nmp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// heldPolicy reports whether the nodes keep the entry they have for a
// policy instead of its spec: entries not resolved yet, or a spec not
// accepted (a deleted policy is sent as it is, unless it was refused).
func heldPolicy(mp *bpfleetv1.MapPolicy, deleting bool) bool {
	v := policyVerdict(mp)
	return !entriesResolved(mp) || v == policyRefused || v == policyPending && !deleting
}

// atGeneration sets the generation of entries to the policy's: a node
// reading a deleted policy's inline entries, for want of a record of the
// keys it wrote, reads them at the generation its set names.
func atGeneration(entries []bpfleetv1.NodeMapPolicy, generation int64) []bpfleetv1.NodeMapPolicy {
	for i := range entries {
		entries[i].Generation = generation
	}
	return entries
}

// removing marks entries as removing, for a deleted policy.
func removing(entries []bpfleetv1.NodeMapPolicy, deleting bool) []bpfleetv1.NodeMapPolicy {
	for i := range entries {
		entries[i].Removing = entries[i].Removing || deleting
	}
	return entries
}

func nodeMapPolicy(mp *bpfleetv1.MapPolicy, programs []KindedProgram, running map[types.UID]bool, cluster *bpfleetv1.ImageVerification) (bpfleetv1.NodeMapPolicy, bool) {
	nmp := bpfleetv1.NodeMapPolicy{
		UID: mp.UID, Name: mp.Name, Generation: mp.Generation, MapName: mp.Spec.MapName,
		Mode: mp.Spec.Mode, Atomic: mp.Spec.Atomic, Export: mp.Spec.Export,
		Removing: !mp.DeletionTimestamp.IsZero(),
	}
	nmp.Shared = sharedName(mp)
	if from := mp.Spec.EntriesFrom; from != nil {
		nmp.EntriesFrom = &bpfleetv1.NodeEntriesSource{
			Image:      pinnedRef(from.Image.Ref, mp.Status.EntriesImage.Digest),
			PullPolicy: from.Image.PullPolicy, PullSecret: from.Image.PullSecret,
			Verify: signaturePolicies(cluster, from.Image.Verify),
		}
	}
	for _, kp := range programs {
		if running[kp.Program.GetUID()] && policySelects(mp, kp.Kind, kp.Program) {
			nmp.Programs = append(nmp.Programs, kp.Program.GetUID())
		}
	}
	sort.Slice(nmp.Programs, func(i, j int) bool { return nmp.Programs[i] < nmp.Programs[j] })
	return nmp, len(nmp.Programs) > 0
}

// entriesImage is the artifact a policy takes its entries from, or nil.
func entriesImage(mp *bpfleetv1.MapPolicy) *bpfleetv1.ImageSource {
	if mp.Spec.EntriesFrom == nil {
		return nil
	}
	return &mp.Spec.EntriesFrom.Image
}

// entriesResolved reports whether the policy's status holds the digest of
// its entries artifact (always true for inline entries).
func entriesResolved(mp *bpfleetv1.MapPolicy) bool {
	return resolved(entriesImage(mp), mp.Status.EntriesImage)
}

// currentPolicy is the node's entry for a policy, if it has one.
func currentPolicy(current []bpfleetv1.NodeMapPolicy, uid types.UID) []bpfleetv1.NodeMapPolicy {
	for _, nmp := range current {
		if nmp.UID == uid {
			return []bpfleetv1.NodeMapPolicy{nmp}
		}
	}
	return nil
}
