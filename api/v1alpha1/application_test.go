package v1alpha1_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// teamApp is a BpfApplication of namespace ns loading image ref.
func teamApp(ns, name, ref string) *bpfleetv1.BpfApplication {
	return &bpfleetv1.BpfApplication{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: bpfleetv1.BpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}}},
			Programs: []bpfleetv1.BpfApplicationProgram{{Name: "tc_count", TCX: &bpfleetv1.PodTCXAttach{
				Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}, Direction: bpfleetv1.TCXIngress,
				NetworkNamespaces: bpfleetv1.LocalPodSelector{Pods: bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			}}},
		},
	}
}

// TestBpfApplicationAdmission applies config/rbac/applications' admission
// policy and a BpfApplicationPolicy, as an install does: a BpfApplication
// loads only an allowed image, names Secrets and grants maps in its own
// namespace only, and never loads a file of the node.
func TestBpfApplicationAdmission(t *testing.T) {
	ctx := context.Background()
	applyFile(t, ctx, "../../config/rbac/applications/image_policy.yaml")
	namespace(t, ctx, "team-adm")
	allowed := "127.0.0.1:5000/bpfleet/counter:v1"

	// Without a BpfApplicationPolicy, nothing is admitted.
	waitRefused(t, ctx, teamApp("team-adm", "no-policy", allowed), "binding 'bpfleet-bpfapplicationpolicy-default' denied request: failed to configure binding: no params found")

	policy := &bpfleetv1.BpfApplicationPolicy{ObjectMeta: metav1.ObjectMeta{Name: bpfleetv1.BpfApplicationPolicyName},
		Spec: bpfleetv1.BpfApplicationPolicySpec{Repositories: []string{"127.0.0.1:5000/bpfleet"}}}
	ensurePolicy(t, ctx, policy)
	other := policy.DeepCopy()
	other.ResourceVersion, other.Name = "", "team-b"
	if err := k8s.Create(ctx, other); err == nil || !strings.Contains(err.Error(), "named default") {
		t.Errorf("a second BpfApplicationPolicy: %v, want a refusal", err)
	}

	waitRefused(t, ctx, teamApp("team-adm", "elsewhere", "registry.example.com/bpf/counter:v1"),
		"image registry.example.com/bpf/counter:v1 is not allowed by BpfApplicationPolicy default (repositories: 127.0.0.1:5000/bpfleet)")
	if err := k8s.Create(ctx, teamApp("team-adm", "good", allowed), client.DryRunAll); err != nil {
		t.Errorf("an allowed image refused: %v", err)
	}
	if err := k8s.Create(ctx, teamApp("team-adm", "prefix", "127.0.0.1:5000/bpfleetx/counter:v1"), client.DryRunAll); err == nil {
		t.Error("127.0.0.1:5000/bpfleetx admitted under 127.0.0.1:5000/bpfleet")
	}
	for name, tc := range map[string]struct {
		mutate func(*bpfleetv1.BpfApplication)
		want   string
	}{
		"pull secret of another namespace": {func(a *bpfleetv1.BpfApplication) {
			a.Spec.ByteCode.Image.PullSecret = &bpfleetv1.SecretReference{Namespace: "bpfleet-system", Name: "creds"}
		}, "pullSecret: a BpfApplication names Secrets in its own namespace team-adm only"},
		"key of another namespace": {func(a *bpfleetv1.BpfApplication) {
			a.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{{SecretReference: bpfleetv1.SecretReference{Namespace: "kube-system", Name: "k"}}}}
		}, "verify.keys: a BpfApplication names Secrets in its own namespace"},
		"maps for another namespace": {func(a *bpfleetv1.BpfApplication) {
			a.Spec.MapAccess = []bpfleetv1.MapAccessGrant{{Namespace: "team-b", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"packets"}}}
		}, "mapAccess: a BpfApplication grants its maps to pods of its own namespace team-adm only"},
		"a file of the node": {func(a *bpfleetv1.BpfApplication) {
			a.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/opt/bpf/x.o"}
		}, "a BpfApplication loads an image (byteCode.image), never a file of the node"},
		"no hook": {func(a *bpfleetv1.BpfApplication) {
			a.Spec.Programs[0].TCX = nil
		}, "set exactly one hook per program: xdp, tcx, uprobe or cgroup"},
		"uprobe without function": {func(a *bpfleetv1.BpfApplication) {
			a.Spec.Programs[0].TCX = nil
			a.Spec.Programs[0].Uprobe = &bpfleetv1.PodUprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/app"}}
		}, "set uprobe.function, uprobe.offset, or both"},
	} {
		t.Run(name, func(t *testing.T) {
			a := teamApp("team-adm", "bad", allowed)
			tc.mutate(a)
			err := k8s.Create(ctx, a, client.DryRunAll)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a refusal mentioning %q", err, tc.want)
			}
		})
	}
}

// TestApplicationRoles: the roles teams are granted reach BpfApplications
// in their namespace only, and Kubernetes' own edit role reaches none.
func TestApplicationRoles(t *testing.T) {
	ctx := context.Background()
	applyFile(t, ctx, "../../config/rbac/applications/roles.yaml")
	b, err := os.ReadFile("../../config/rbac/applications/roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("rbac.authorization.k8s.io/aggregate-to-")) {
		t.Error("a role of config/rbac/applications joins Kubernetes' admin, edit or view roles")
	}
	namespace(t, ctx, "team-rbac")
	namespace(t, ctx, "team-other")
	bind(t, ctx, "team-rbac", "edit", "edit")
	as := impersonate(t, "alice")
	app := teamApp("team-rbac", "mine", "127.0.0.1:5000/bpfleet/counter:v1")
	err = as.Create(ctx, app, client.DryRunAll)
	if !apierrors.IsForbidden(err) {
		t.Errorf("with edit: %v, want Forbidden", err)
	}
	// The aggregated role's rules come from the labelled role (the
	// controller manager aggregates them; this API server runs none).
	bind(t, ctx, "team-rbac", "bpfleet-application-edit", "bpfleet")
	// The API server's authorizer sees a new binding a moment later.
	_ = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		err = as.Create(ctx, app, client.DryRunAll)
		return !apierrors.IsForbidden(err), nil
	})
	if apierrors.IsForbidden(err) {
		t.Errorf("with bpfleet-application-edit: %v", err)
	}
	if err := as.Create(ctx, teamApp("team-other", "theirs", "127.0.0.1:5000/bpfleet/counter:v1"), client.DryRunAll); !apierrors.IsForbidden(err) {
		t.Errorf("in another namespace: %v, want Forbidden", err)
	}
}

// ensurePolicy makes policy the cluster's BpfApplicationPolicy (a
// sample's may be there already).
func ensurePolicy(t *testing.T, ctx context.Context, policy *bpfleetv1.BpfApplicationPolicy) {
	t.Helper()
	err := k8s.Create(ctx, policy)
	if apierrors.IsAlreadyExists(err) {
		var have bpfleetv1.BpfApplicationPolicy
		if err = k8s.Get(ctx, client.ObjectKeyFromObject(policy), &have); err == nil {
			have.Spec = policy.Spec
			err = k8s.Update(ctx, &have)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// applyFile creates the objects of a YAML file of config/.
func applyFile(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatal(err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := k8s.Create(ctx, &obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// waitRefused waits until creating obj is refused with a message holding
// want: an admission policy takes a moment to apply.
func waitRefused(t *testing.T, ctx context.Context, obj client.Object, want string) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = k8s.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), want), nil
	})
	if err != nil {
		t.Fatalf("creating %s: %v, want a refusal mentioning %q", obj.GetName(), last, want)
	}
}

func namespace(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// bind grants user alice ClusterRole role in namespace ns.
func bind(t *testing.T, ctx context.Context, ns, role, name string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
	}
	if err := k8s.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
}

// impersonate is a client acting as user.
func impersonate(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(plane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
