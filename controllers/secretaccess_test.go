package controllers_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// A program naming a Secret outside the namespaces the operator serves
// (here its default, bpfleet-system) is Stalled with
// SecretNamespaceNotAllowed and a message naming the namespaces served;
// it reaches no node, and no agent is granted anything in that namespace.
// A program whose Secret is served runs, and keeps its generation on the
// nodes when a change moves its Secret out.
func TestSecretOutsideServedNamespacesRefused(t *testing.T) {
	ctx := context.Background()
	creds := &oci.Credentials{Username: "team", Password: "s3cret"}
	host := ocitest.Serve(t, creds)
	ref := host + "/team/counter:v1"
	if _, err := oci.Push(ctx, ref, oci.Bytecode{FileName: "counter.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"}}, creds); err != nil {
		t.Fatal(err)
	}
	const foreign = "foreign-secrets"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: foreign}},
		pullSecret(foreign, host, creds),
		pullSecret(controlplane.Namespace, host, creds),
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	sel := map[string]string{"test": "secret-namespaces"}
	createNode(t, "secret-ns-1", sel)

	refused := imageProgram("foreign-secret", sel, ref, foreign)
	refused.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{
		{SecretReference: bpfleetv1.SecretReference{Name: "signing", Namespace: foreign}}}}
	if err := k8s.Create(ctx, refused); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, refused.Name, bpfleetv1.ConditionStalled, metav1.ConditionTrue, bpfleetv1.ReasonSecretNamespaceNotAllowed)
	c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionStalled)
	for _, want := range []string{"pullSecret foreign-secrets/regcred", "verify key foreign-secrets/signing", "(bpfleet-system)"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Stalled message %q does not name %q", c.Message, want)
		}
	}
	if r := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReady); r == nil || r.Reason != bpfleetv1.ReasonSecretNamespaceNotAllowed {
		t.Errorf("Ready = %+v, want reason %s", r, bpfleetv1.ReasonSecretNamespaceNotAllowed)
	}

	served := imageProgram("served-secret", sel, ref, controlplane.Namespace)
	if err := k8s.Create(ctx, served); err != nil {
		t.Fatal(err)
	}
	np := waitScheduled(t, "secret-ns-1", served)
	eventually(t, "agents granted the served pull secret", func() (bool, error) {
		var role rbacv1.Role
		err := k8s.Get(ctx, types.NamespacedName{Namespace: controlplane.Namespace, Name: "bpfleet-agent-secrets"}, &role)
		return err == nil && len(role.Rules) == 1 && strings.Join(role.Rules[0].ResourceNames, ",") == "regcred", err
	})
	// The grants are written from the specs that hold the served program:
	// the refused one is in none, and nothing was granted for it.
	assertNotScheduled(t, "secret-ns-1", refused)
	for _, obj := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		err := k8s.Get(ctx, types.NamespacedName{Namespace: foreign, Name: "bpfleet-agent-secrets"}, obj)
		if !apierrors.IsNotFound(err) {
			t.Errorf("%T bpfleet-agent-secrets in %s: %v, want none", obj, foreign, err)
		}
	}

	// Moving the running program's Secret out is refused the same way; the
	// node keeps the generation it runs.
	base := served.DeepCopy()
	served.Spec.ByteCode.Image.PullSecret = &bpfleetv1.SecretReference{Name: "regcred", Namespace: foreign}
	if err := k8s.Patch(ctx, served, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, served.Name, bpfleetv1.ConditionStalled, metav1.ConditionTrue, bpfleetv1.ReasonSecretNamespaceNotAllowed)
	s, err := getSet("secret-ns-1")
	if err != nil {
		t.Fatal(err)
	}
	var kept *bpfleetv1.NodeProgram
	for i := range s.Spec.Programs {
		if s.Spec.Programs[i].UID == served.UID {
			kept = &s.Spec.Programs[i]
		}
	}
	if kept == nil || kept.Generation != np.Generation || kept.PullSecret == nil || kept.PullSecret.Namespace != controlplane.Namespace {
		t.Errorf("node spec entry after the refused change = %+v, want generation %d with its served pull secret", kept, np.Generation)
	}
}

// A MapPolicy taking its entries from an artifact whose pull secret is
// outside the served namespaces is refused likewise.
func TestMapPolicySecretOutsideServedNamespacesRefused(t *testing.T) {
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "foreign-entries"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: "any"}}},
			MapName:  "counts",
			EntriesFrom: &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{
				Ref:        "127.0.0.1:1/lists/blocked:v1",
				PullSecret: &bpfleetv1.SecretReference{Name: "regcred", Namespace: "kube-system"},
			}},
		},
	}
	if err := k8s.Create(context.Background(), mp); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, mp.Name, bpfleetv1.ConditionStalled, metav1.ConditionTrue, bpfleetv1.ReasonSecretNamespaceNotAllowed)
}

func pullSecret(ns, host string, creds *oci.Credentials) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: ocitest.DockerConfig(host, creds)}}
}

// imageProgram is a program loading ref with the pull secret regcred of
// namespace ns.
func imageProgram(name string, sel map[string]string, ref, ns string) *bpfleetv1.TracepointProgram {
	p := pathProgram(name, sel)
	p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{
		Ref: ref, PullSecret: &bpfleetv1.SecretReference{Name: "regcred", Namespace: ns}}}
	return p
}

// assertNotScheduled fails if node's set holds p.
func assertNotScheduled(t *testing.T, node string, p client.Object) {
	t.Helper()
	s, err := getSet(node)
	if err != nil {
		t.Fatal(err)
	}
	for _, np := range s.Spec.Programs {
		if np.UID == p.GetUID() {
			t.Errorf("%s is in %s's spec: %+v", p.GetName(), node, np)
		}
	}
}

// The operator refuses to start with a cluster-wide signature key outside
// the namespaces it serves: no agent could read it, and every image would
// fail verification on every node.
func TestClusterKeyOutsideServedNamespacesRefusedAtStart(t *testing.T) {
	_, err := controllers.NewManager(plane.Config, scheme.New(), controllers.Options{MetricsAddr: "0",
		Verify: &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{
			{SecretReference: bpfleetv1.SecretReference{Name: "org-signing", Namespace: "security"}}}}})
	if err == nil || !strings.Contains(err.Error(), "verify key security/org-signing") || !strings.Contains(err.Error(), "(bpfleet-system)") {
		t.Errorf("NewManager with a key in namespace security: %v, want a refusal naming it and the served namespaces", err)
	}
}
