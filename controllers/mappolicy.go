package controllers

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// policySelects reports whether a MapPolicy applies to a program of kind.
// Pure.
func policySelects(mp *bpfleetv1.MapPolicy, kind string, p bpfleetv1.Program) bool {
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
// sorted by byAge), so the node spec, and the program, stay stable.
func mapConfigs(kind string, p bpfleetv1.Program, policies []bpfleetv1.MapPolicy) []bpfleetv1.MapConfig {
	var out []bpfleetv1.MapConfig
	seen := map[string]bool{}
	for i := range policies {
		mp := &policies[i]
		if !mp.DeletionTimestamp.IsZero() || !policySelects(mp, kind, p) || seen[mp.Spec.MapName] {
			continue
		}
		seen[mp.Spec.MapName] = true
		c := bpfleetv1.MapConfig{Name: mp.Spec.MapName}
		if mp.Spec.MaxEntries != nil {
			c.MaxEntries = *mp.Spec.MaxEntries
		}
		c.Shared = sharedName(mp)
		if c.MaxEntries != 0 || c.Shared != "" {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
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

// nodeMapPolicies are the policies with entries for the programs a node
// runs. A policy whose new entries artifact is not resolved yet keeps the
// entry the node already has (current), so a change of tag never leaves
// the map without its entries. Pure.
func nodeMapPolicies(policies []bpfleetv1.MapPolicy, programs []KindedProgram, onNode []bpfleetv1.NodeProgram, current []bpfleetv1.NodeMapPolicy, cluster *bpfleetv1.ImageVerification) []bpfleetv1.NodeMapPolicy {
	running := map[types.UID]bool{}
	for _, np := range onNode {
		running[np.UID] = true
	}
	var out []bpfleetv1.NodeMapPolicy
	for i := range policies {
		mp := &policies[i]
		if !mp.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(mp, bpfleetv1.Finalizer) {
			continue
		}
		if !entriesResolved(mp) {
			out = append(out, currentPolicy(current, mp.UID)...)
			continue
		}
		if nmp, ok := nodeMapPolicy(mp, programs, running, cluster); ok {
			out = append(out, nmp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
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
