package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// An agent reads exactly the Secrets its node's spec names — a program's
// pull secret and signature key, in namespaces the operator serves — and
// no other Secret, even in the same namespace; once no program names them,
// not those either. A program naming a Secret in a namespace the operator
// does not serve is Stalled, and that Secret stays unreadable.
func TestAgentReadsOnlyNamedSecrets(t *testing.T) {
	operator(t)
	ctx := context.Background()
	admin := adminClient(t)
	creds := &oci.Credentials{Username: "team", Password: "s3cret"}
	host, stop, err := ocitest.Start("127.0.0.1:0", creds)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ref := host + "/team/counter:v1"
	if _, err := oci.Push(ctx, ref, oci.Bytecode{FileName: "counter.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"}}, creds); err != nil {
		t.Fatal(err)
	}
	serveSecretNamespace(t, "team-b")
	regcred := func(ns string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: ocitest.DockerConfig(host, creds)}}
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "secrets-node"}},
		regcred("bpfleet-system"),
		regcred("team-a"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "bpfleet-system"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "signing", Namespace: "team-b"}},
	} {
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	p := tracepointProgram("secret-user", ref, bpfleetv1.SecretReference{Name: "regcred", Namespace: "bpfleet-system"})
	p.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{
		{SecretReference: bpfleetv1.SecretReference{Name: "signing", Namespace: "team-b"}},
	}}
	foreign := tracepointProgram("foreign-secret-user", ref, bpfleetv1.SecretReference{Name: "regcred", Namespace: "team-a"})
	for _, prog := range []client.Object{p, foreign} {
		if err := admin.Create(ctx, prog); err != nil {
			t.Fatal(err)
		}
	}
	agent := agentClient(t, "secrets-node")
	canRead := func(ns, name string) func() (bool, error) {
		return func() (bool, error) {
			err := agent.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{})
			if err != nil && !apierrors.IsForbidden(err) {
				return false, err
			}
			return err == nil, nil
		}
	}
	eventually(t, "the agent reads the pull secret", canRead("bpfleet-system", "regcred"), true)
	eventually(t, "the agent reads the signature key", canRead("team-b", "signing"), true)
	eventually(t, "the program naming a Secret in team-a stalled", func() (bool, error) {
		var got bpfleetv1.TracepointProgram
		err := admin.Get(ctx, client.ObjectKeyFromObject(foreign), &got)
		c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == bpfleetv1.ReasonSecretNamespaceNotAllowed &&
			strings.Contains(c.Message, "bpfleet-system, team-b"), err
	}, true)
	for _, s := range [][2]string{{"bpfleet-system", "unrelated"}, {"team-a", "regcred"}, {"bpfleet-system", "anything"}, {"default", "x"}} {
		if ok, err := canRead(s[0], s[1])(); ok || err != nil {
			t.Errorf("agent reads %s/%s (%v): only named Secrets in served namespaces are readable", s[0], s[1], err)
		}
	}

	for _, prog := range []client.Object{p, foreign} {
		if err := admin.Delete(ctx, prog); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the pull secret unreadable once no program names it", canRead("bpfleet-system", "regcred"), false)
	eventually(t, "the key unreadable once no program names it", canRead("team-b", "signing"), false)
}

// The operator's RBAC (config/default) confines it to the namespaces it
// serves and to its own grants there: acting as its service account, it
// reads no Secret elsewhere, writes no Role elsewhere, and changes no Role
// or RoleBinding but bpfleet-agent-secrets where it may; a Role it creates
// grants no more than it holds.
func TestOperatorRBACIsScoped(t *testing.T) {
	installed(t)
	ctx := context.Background()
	admin := adminClient(t)
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-served"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: "not-served"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: "bpfleet-system"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: "bpfleet-system"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "someone-elses"}},
	} {
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	op, err := client.New(serviceAccountConfig("bpfleet-system", "bpfleet-operator"), client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	// Its own namespace is served: reading a Secret there is allowed (the
	// API server's RBAC cache may lag the apply by a moment).
	eventually(t, "the operator reads Secrets in its own namespace", func() (bool, error) {
		err := op.Get(ctx, client.ObjectKey{Namespace: "bpfleet-system", Name: "absent"}, &corev1.Secret{})
		return apierrors.IsNotFound(err), nil
	}, true)

	grant := func(ns, name string, verbs ...string) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: verbs}}}
	}
	mine := client.ObjectKey{Namespace: "bpfleet-system", Name: "someone-elses"}
	var role rbacv1.Role
	var binding rbacv1.RoleBinding
	if err := admin.Get(ctx, mine, &role); err != nil {
		t.Fatal(err)
	}
	if err := admin.Get(ctx, mine, &binding); err != nil {
		t.Fatal(err)
	}
	role.Rules = grant("", "", "get").Rules
	for what, err := range map[string]error{
		"read a Secret in a namespace not served":       op.Get(ctx, client.ObjectKey{Namespace: "not-served", Name: "db-password"}, &corev1.Secret{}),
		"create a Role in a namespace not served":       op.Create(ctx, grant("not-served", "bpfleet-agent-secrets", "get")),
		"update a Role of another name":                 op.Update(ctx, &role),
		"delete a Role of another name":                 op.Delete(ctx, &role),
		"delete a RoleBinding of another name":          op.Delete(ctx, &binding),
		"read a Role of another name":                   op.Get(ctx, mine, &rbacv1.Role{}),
		"create a Role granting more than it holds":     op.Create(ctx, grant("bpfleet-system", "bpfleet-agent-secrets", "list")),
		"list Secrets in its own namespace":             op.List(ctx, &corev1.SecretList{}, client.InNamespace("bpfleet-system")),
		"list Roles anywhere (it reads its grant only)": op.List(ctx, &rbacv1.RoleList{}),
	} {
		if !apierrors.IsForbidden(err) {
			t.Errorf("the operator may %s: %v, want Forbidden", what, err)
		}
	}
}

// serveSecretNamespace makes ns (if missing) one whose Secrets the
// operator may read and grant, as an admin would: a RoleBinding there to
// the ClusterRole bpfleet-operator-secret-access.
func serveSecretNamespace(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	admin := adminClient(t)
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bpfleet-operator-secret-access", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "bpfleet-operator-secret-access"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "bpfleet-operator", Namespace: "bpfleet-system"}},
	}
	if err := admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
}

func tracepointProgram(name, ref string, pullSecret bpfleetv1.SecretReference) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref, PullSecret: &pullSecret}},
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

func adminClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond until it returns want.
func eventually(t *testing.T, what string, cond func() (bool, error), want bool) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) {
			got, err := cond()
			last = err
			return err == nil && got == want, nil
		})
	if err != nil {
		t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}
