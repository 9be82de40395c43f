package controllers

import (
	"fmt"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// SecretNamespaces are the namespaces whose Secrets the operator serves:
// it reads pull secrets there to resolve tags, and grants the agents
// `get` there on the Secrets node specs name (SecretAccessReconciler). It
// reads and grants nothing elsewhere, and its RBAC says so: the ClusterRole
// bpfleet-operator-secret-access is bound by a RoleBinding in each served
// namespace only (config/rbac/operator). Without this bound, anyone who
// may create a program could have every agent granted any Secret of the
// cluster by naming it (a confused deputy).
//
// A program or MapPolicy naming a Secret elsewhere is refused in its
// status (Stalled, reason SecretNamespaceNotAllowed), not at admission:
// the list is the operator's flag (--secret-namespaces), which the API
// server's CRD validation cannot know, and a webhook would refuse
// resources that a later change of the flag allows.
type SecretNamespaces []string

// allows reports whether ns is served.
func (s SecretNamespaces) allows(ns string) bool { return slices.Contains(s, ns) }

// secretRef is a Secret a resource names, and what for.
type secretRef struct {
	what string // "pullSecret", "verify key"
	ref  bpfleetv1.SecretReference
}

func (r secretRef) String() string { return r.what + " " + r.ref.Namespace + "/" + r.ref.Name }

// secretRefs lists the Secrets img names: its pull secret, then its keys.
func secretRefs(img *bpfleetv1.ImageSource) []secretRef {
	if img == nil {
		return nil
	}
	var out []secretRef
	if img.PullSecret != nil {
		out = append(out, secretRef{"pullSecret", *img.PullSecret})
	}
	return append(out, keyRefs(img.Verify)...)
}

// keyRefs lists the Secrets v's keys are in (none for a nil v).
func keyRefs(v *bpfleetv1.ImageVerification) []secretRef {
	if v == nil {
		return nil
	}
	out := make([]secretRef, 0, len(v.Keys))
	for _, k := range v.Keys {
		out = append(out, secretRef{"verify key", k.SecretReference})
	}
	return out
}

// check refuses the Secrets of refs outside the served namespaces, naming
// them and the namespaces served.
func (s SecretNamespaces) check(refs []secretRef) error {
	var foreign []string
	for _, r := range refs {
		if !s.allows(r.ref.Namespace) {
			foreign = append(foreign, r.String())
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	return fmt.Errorf("%s: Secrets must be in a namespace the operator serves (%s); move them there, or have the operator serve their namespace (--secret-namespaces and a RoleBinding to bpfleet-operator-secret-access)",
		strings.Join(foreign, ", "), strings.Join(s, ", "))
}

// checkImage is check of the Secrets img names, as a terminal error
// (classError) with reason SecretNamespaceNotAllowed.
func (s SecretNamespaces) checkImage(img *bpfleetv1.ImageSource) error {
	err := s.check(secretRefs(img))
	if err == nil {
		return nil
	}
	r := bpfleetv1.ReasonSecretNamespaceNotAllowed
	return &classError{class: classTerminal, reason: r, ready: r, err: err}
}
