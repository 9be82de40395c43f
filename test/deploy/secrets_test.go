package deploy

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
// pull secret and signature key — and no other Secret, even in the same
// namespace; once no program names them, not those either.
func TestAgentReadsOnlyNamedSecrets(t *testing.T) {
	operator(t)
	ctx := context.Background()
	admin, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
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
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "secrets-node"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "team-a"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: ocitest.DockerConfig(host, creds)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "team-a"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "signing", Namespace: "team-b"}},
	} {
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	p := &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-user"},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{
					Ref:        ref,
					PullSecret: &bpfleetv1.SecretReference{Name: "regcred", Namespace: "team-a"},
					Verify: &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{
						{SecretReference: bpfleetv1.SecretReference{Name: "signing", Namespace: "team-b"}},
					}},
				}},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
	if err := admin.Create(ctx, p); err != nil {
		t.Fatal(err)
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
	eventually(t, "the agent reads the pull secret", canRead("team-a", "regcred"), true)
	eventually(t, "the agent reads the signature key", canRead("team-b", "signing"), true)
	for _, s := range [][2]string{{"team-a", "unrelated"}, {"bpfleet-system", "anything"}, {"default", "x"}} {
		if ok, err := canRead(s[0], s[1])(); ok || err != nil {
			t.Errorf("agent reads %s/%s (%v): only named Secrets are readable", s[0], s[1], err)
		}
	}

	if err := admin.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pull secret unreadable once no program names it", canRead("team-a", "regcred"), false)
	eventually(t, "the key unreadable once no program names it", canRead("team-b", "signing"), false)
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
