package controllers_test

import (
	"context"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// A new program reaches its nodes without waiting for the operator's own
// writes of it (its finalizer, its resolved digest in status): here the
// API server refuses both, and the node is asked for the program at its
// digest all the same. Deleted before its finalizer landed, the program
// is taken off the node again.
func TestNodeAskedBeforeOperatorWrites(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/ahead:v1"
	digest := pushCounter(t, ref)
	refuseUpdates(t, "ahead")
	p, np := imageScheduledOn(t, "ahead", ref, "ahead-1")
	if want := host + "/bpfleet/ahead@" + digest; np.Image != want {
		t.Errorf("node spec image = %q, want %q", np.Image, want)
	}
	got := getProgram(t, p.Name)
	if controllerutil.ContainsFinalizer(got, bpfleetv1.Finalizer) || got.Status.Image != nil {
		t.Fatalf("the operator's writes were refused, yet the program has finalizers %v, status image %+v", got.Finalizers, got.Status.Image)
	}

	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitGone(t, p.Name)
	eventually(t, "ahead-1's set without the deleted program", func() (bool, error) {
		s, err := getSet("ahead-1")
		if err != nil {
			return false, err
		}
		return !slices.ContainsFunc(s.Spec.Programs, func(np bpfleetv1.NodeProgram) bool { return np.UID == p.UID }), nil
	})
}

// refuseUpdates makes the API server refuse every update of the
// TracepointProgram name and of its status until the test ends, by a
// ValidatingAdmissionPolicy, and waits until it does.
func refuseUpdates(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	fail := admissionregistrationv1.Fail
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "refuse-" + name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule: admissionregistrationv1.Rule{
						APIGroups: []string{bpfleetv1.GroupVersion.Group, ""}, APIVersions: []string{"*"},
						Resources: []string{"tracepointprograms", "tracepointprograms/status", "configmaps"},
					},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "object.metadata.name != '" + name + "'", Message: "refused by the test"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: policy.Name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	for _, o := range []client.Object{probe, policy, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, o) })
	}
	// The API server takes a moment to load a new policy: it refuses the
	// update of a ConfigMap of that name once it has.
	eventually(t, "the policy refusing updates of "+name, func() (bool, error) {
		probe.Data = map[string]string{"try": metav1.Now().String()}
		err := k8s.Update(ctx, probe)
		if err == nil {
			return false, nil
		}
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err), err
	})
}
