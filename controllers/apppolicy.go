package controllers

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A namespaced program (a BpfApplication) is a team's: it may name
// Secrets and grant maps in its own namespace only, and load only the
// images the cluster's BpfApplicationPolicy allows, signed as it says. A
// ValidatingAdmissionPolicy refuses the others at admission
// (config/rbac/applications); the operator checks again, as the policy
// may change after admission, and a cluster may lack the admission
// policy: what it refuses is not scheduled (Stalled), and nodes unload
// what a changed policy no longer allows (allowedPrograms).

// +kubebuilder:rbac:groups=bpfleet.io,resources=bpfapplicationpolicies,verbs=get;list;watch

// checkApplication refuses namespaced program p if it reaches outside its
// namespace or its image is not allowed; nil for a cluster-scoped one.
func checkApplication(ctx context.Context, c client.Reader, p bpfleetv1.Program) error {
	ns := p.GetNamespace()
	if ns == "" {
		return nil
	}
	if err := ownNamespace(p); err != nil {
		r := bpfleetv1.ReasonOutsideNamespace
		return &classError{class: classTerminal, reason: r, ready: r, err: err}
	}
	policy, err := applicationPolicy(ctx, c)
	if err != nil {
		return err
	}
	return policyAllows(policy, p.Source().ByteCode.Image)
}

// ownNamespace refuses the Secrets and map grants of p outside its
// namespace.
func ownNamespace(p bpfleetv1.Program) error {
	ns := p.GetNamespace()
	var foreign []string
	for _, r := range secretRefs(p.Source().ByteCode.Image) {
		if r.ref.Namespace != ns {
			foreign = append(foreign, r.String())
		}
	}
	for _, g := range p.Source().MapAccess {
		if g.Namespace != ns {
			foreign = append(foreign, "mapAccess for namespace "+g.Namespace)
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	return fmt.Errorf("%s: a BpfApplication names Secrets and grants maps in its own namespace %s only", strings.Join(foreign, ", "), ns)
}

// applicationPolicy is the cluster's BpfApplicationPolicy, or nil if
// there is none.
func applicationPolicy(ctx context.Context, c client.Reader) (*bpfleetv1.BpfApplicationPolicy, error) {
	var policy bpfleetv1.BpfApplicationPolicy
	err := c.Get(ctx, types.NamespacedName{Name: bpfleetv1.BpfApplicationPolicyName}, &policy)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get BpfApplicationPolicy %s: %w", bpfleetv1.BpfApplicationPolicyName, err)
	}
	return &policy, nil
}

// policyAllows refuses img unless policy allows it.
func policyAllows(policy *bpfleetv1.BpfApplicationPolicy, img *bpfleetv1.ImageSource) error {
	r := bpfleetv1.ReasonImageNotAllowed
	switch {
	case policy == nil:
		return &classError{class: classTerminal, reason: r, ready: r, err: fmt.Errorf(
			"no BpfApplicationPolicy %q: a cluster admin must create one naming the repositories BpfApplications may load", bpfleetv1.BpfApplicationPolicyName)}
	case img == nil:
		return &classError{class: classTerminal, reason: r, ready: r, err: fmt.Errorf("a BpfApplication loads an image, never a file of the node")}
	case !policy.Spec.Allows(img.Ref):
		return &classError{class: classTerminal, reason: r, ready: r, err: fmt.Errorf(
			"image %s is not allowed by BpfApplicationPolicy %s (repositories: %s)", img.Ref, policy.Name, strings.Join(policy.Spec.Repositories, ", "))}
	}
	return nil
}

// allowedPrograms is programs as the BpfApplicationPolicy lets nodes run
// them: each namespaced program gets the signatures the policy requires
// (KindedProgram.Verify), and one whose image the policy does not allow
// (or with no policy at all) is left out, so that nodes unload what a
// tightened policy no longer allows, as they never load it once refused
// (its status says ImageNotAllowed).
func allowedPrograms(ctx context.Context, c client.Reader, programs []KindedProgram) ([]KindedProgram, error) {
	var (
		policy *bpfleetv1.BpfApplicationPolicy
		read   bool
	)
	out := programs[:0]
	for _, kp := range programs {
		if kp.Program.GetNamespace() != "" {
			if !read {
				var err error
				if policy, err = applicationPolicy(ctx, c); err != nil {
					return nil, err
				}
				read = true
			}
			if policyAllows(policy, kp.Program.Source().ByteCode.Image) != nil {
				continue
			}
			kp.Verify = policy.Spec.Verify
		}
		out = append(out, kp)
	}
	return out, nil
}
