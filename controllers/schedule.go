package controllers

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// selects reports whether a program's nodeSelector matches the node. An
// invalid selector selects nothing (CRD validation keeps them out).
func selects(p bpfleetv1.Program, node *corev1.Node) bool {
	return nodeSelector(p).Matches(labels.Set(node.Labels))
}

// nodeSelector is a program's nodeSelector; an invalid one selects
// nothing.
func nodeSelector(p bpfleetv1.Program) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(&p.Source().NodeSelector)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// imageResolved reports whether the program's status holds the digest of its
// current image reference (always true for a path).
func imageResolved(p bpfleetv1.Program) bool {
	return resolved(p.Source().ByteCode.Image, p.ProgramStatus().Image)
}

// nodeProgram is the entry a program contributes to a node's spec; cluster
// is the operator's signature policy (may be nil).
func nodeProgram(kp KindedProgram, cluster *bpfleetv1.ImageVerification) bpfleetv1.NodeProgram {
	kind, p := kp.Kind, kp.Program
	c := p.Source()
	np := bpfleetv1.NodeProgram{
		UID:        p.GetUID(),
		Kind:       kind,
		Namespace:  p.GetNamespace(),
		Name:       p.GetName(),
		Generation: p.GetGeneration(),
		Path:       c.ByteCode.Path,
		GlobalData: c.GlobalData,
		RunStats:   c.RunStats,
		MapAccess:  c.MapAccess,
	}
	np.ProgramName, np.Attach, np.Programs = attachments(kind, p.Attachments())
	if img := c.ByteCode.Image; img != nil {
		np.Image = pinnedRef(img.Ref, p.ProgramStatus().Image.Digest)
		np.PullPolicy = img.PullPolicy
		np.PullSecret = img.PullSecret
		np.Verify = signaturePolicies(cluster, kp.Verify, img.Verify)
	} else {
		np.Verify = signaturePolicies(cluster, kp.Verify) // the node refuses a path under a required policy
	}
	return np
}

// attachments says a program's attachments as its node entry does: a
// single program kind's one program by name and hook (as agents before
// applications read them), an application's as its list.
func attachments(kind string, of []bpfleetv1.ProgramAttachment) (string, bpfleetv1.AttachPoint, []bpfleetv1.ProgramAttachment) {
	if k, ok := bpfleetv1.ProgramKindOf(kind); ok && k.Hook != "" && len(of) == 1 {
		return of[0].Name, of[0].Attach, nil
	}
	return "", bpfleetv1.AttachPoint{}, of
}

// signaturePolicies are the policies an image must meet, every one: the
// cluster's first, so a program adds to it and never relaxes it.
func signaturePolicies(policies ...*bpfleetv1.ImageVerification) []bpfleetv1.ImageVerification {
	var out []bpfleetv1.ImageVerification
	for _, v := range policies {
		if v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// KindedProgram is a program with the name of its kind.
type KindedProgram struct {
	Kind    string
	Program bpfleetv1.Program
	// Verify is the signature policy the cluster adds to the program's
	// image beyond the operator's: a BpfApplication's, the
	// BpfApplicationPolicy's.
	Verify *bpfleetv1.ImageVerification
}

// desiredPrograms computes a node's spec: every live program that selects
// the node and whose hook the node supports (caps may be nil: unknown yet),
// at the generation its rollout gives the node (see nodeEntry; stable
// reads stable generations, nil none). Pure: no API calls but stable's.
func desiredPrograms(node *corev1.Node, caps *bpfleetv1.NodeCapabilities, programs []KindedProgram, policies []bpfleetv1.MapPolicy, current []bpfleetv1.NodeProgram, cluster *bpfleetv1.ImageVerification, stable stableEntries) []bpfleetv1.NodeProgram {
	have := make(map[types.UID]*bpfleetv1.NodeProgram, len(current))
	for i := range current {
		have[current[i].UID] = &current[i]
	}
	var out []bpfleetv1.NodeProgram
	for _, kp := range programs {
		p := kp.Program
		if !p.GetDeletionTimestamp().IsZero() || !selects(p, node) || unsupported(caps, kp) {
			continue
		}
		if np, ok := nodeEntry(kp, node, have[p.GetUID()], cluster, stable); ok {
			np.Maps = mapConfigs(kp.Kind, p, policies, have[p.GetUID()])
			out = append(out, np)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// unsupported reports whether the node lacks a hook kp needs.
func unsupported(caps *bpfleetv1.NodeCapabilities, kp KindedProgram) bool {
	return unsupportedHook(caps, kp.Kind, kp.Program) != ""
}

// nodeEntry is the generation of a program a node runs: the latest where
// its rollout released it to the node (or the node already runs it),
// else what the node runs now (old, may be nil), else the last generation
// that reached every node (read by stable, may be nil); none before the
// first is released (unless it goes everywhere at once, see
// goesEverywhereUnplanned). A program whose new image is not resolved yet
// counts as not released: a change of tag never leaves a gap.
func nodeEntry(kp KindedProgram, node *corev1.Node, old *bpfleetv1.NodeProgram, cluster *bpfleetv1.ImageVerification, stable stableEntries) (bpfleetv1.NodeProgram, bool) {
	p := kp.Program
	ro := p.ProgramStatus().Rollout
	latest := imageResolved(p) && ro != nil && ro.Generation == p.GetGeneration()
	switch {
	case latest && old != nil && old.Generation == ro.Generation,
		latest && !ro.Halted && released(ro, isCanary(p.Source().Rollout, node), rank(p.GetUID(), node.Name)),
		goesEverywhereUnplanned(p, old):
		return nodeProgram(kp, cluster), true
	case old != nil:
		return *old, true
	}
	return stableEntry(kp, cluster, stable)
}

// stableEntry is the entry of kp's stable generation, read by stable (nil:
// none), with the cluster's signature policies as they are now.
func stableEntry(kp KindedProgram, cluster *bpfleetv1.ImageVerification, stable stableEntries) (bpfleetv1.NodeProgram, bool) {
	if stable == nil {
		return bpfleetv1.NodeProgram{}, false
	}
	np, ok := stable(kp.Program)
	if ok {
		np.Verify = append(signaturePolicies(cluster, kp.Verify), np.Verify...)
	}
	return np, ok
}
