package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// A registry that demands basic auth: the operator resolves the tag and the
// agent pulls the image with the credentials of the program's pull secret.
func TestPrivateRegistryWithPullSecret(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, creds, dockerConfig := authRegistry(t)
	ref := host + "/private/counter:v1"
	if _, err := oci.Push(ctx, ref, oci.Bytecode{
		FileName: "tracepoint_counter.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"},
	}, creds); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "default"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: dockerConfig},
	}
	if err := s.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	p := counter("private-counter", ref, nil)
	p.Spec.ByteCode.Image.PullSecret = &bpfleetv1.SecretReference{Name: "regcred", Namespace: "default"}
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, s.Client, p.Name)
	if err := s.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.Client, p.Name)
}

// authRegistry starts a registry on 127.0.0.1 that demands basic auth; it
// returns its host, the credentials, and a docker config file's content
// holding them.
func authRegistry(t testing.TB) (host string, creds *oci.Credentials, dockerConfig []byte) {
	t.Helper()
	creds = &oci.Credentials{Username: "team", Password: "s3cret"}
	host = ocitest.Serve(t, creds)
	return host, creds, ocitest.DockerConfig(host, creds)
}
