package oci_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

var counter = oci.Bytecode{
	FileName: "counter.o",
	Object:   []byte("\x7fELF not really, Push does not look"),
	Programs: map[string]string{"count_openat": "tracepoint"},
	Maps:     map[string]string{"openat_count": "array"},
}

func startRegistry(t *testing.T, creds *oci.Credentials) string {
	t.Helper()
	host, stop, err := ocitest.Start("127.0.0.1:0", creds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host
}

func TestPushResolve(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	ref := host + "/bpf/counter:v1"

	pushed, err := oci.Push(ctx, ref, counter, nil)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := oci.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resolved != pushed || !strings.HasPrefix(resolved, "sha256:") {
		t.Fatalf("Resolve(%s) = %s, pushed %s", ref, resolved, pushed)
	}
	pinned := oci.Pinned(ref, resolved)
	if want := host + "/bpf/counter@" + pushed; pinned != want {
		t.Fatalf("Pinned = %s, want %s", pinned, want)
	}
	if got, err := oci.Resolve(ctx, pinned, nil); err != nil || got != pushed {
		t.Fatalf("Resolve(%s) = %s, %v; want %s", pinned, got, err, pushed)
	}
}

func TestPushIsReproducible(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	first, err := oci.Push(ctx, host+"/a:v1", counter, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := oci.Push(ctx, host+"/b:v2", counter, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatalf("same bytecode pushed twice: digests %s and %s", first, second)
	}
}

func TestPushRejectsBadFileName(t *testing.T) {
	host := startRegistry(t, nil)
	for _, name := range []string{"", "../x.o", "dir/x.o", ".."} {
		img := counter
		img.FileName = name
		if _, err := oci.Push(context.Background(), host+"/a:v1", img, nil); err == nil {
			t.Errorf("Push with file name %q: no error", name)
		}
	}
}

func TestResolveNotFound(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	digest, err := oci.Push(ctx, host+"/bpf/counter:v1", counter, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Replace(digest, digest[len(digest)-4:], "0000", 1)
	for _, ref := range []string{
		host + "/bpf/counter:v2",
		host + "/bpf/other:v1",
		host + "/bpf/counter@" + missing,
	} {
		_, err := oci.Resolve(ctx, ref, nil)
		if !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("Resolve(%s) = %v, want ErrNotFound", ref, err)
			continue
		}
		if want := fmt.Sprintf("resolve %s: not found", ref); err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	}
}

func TestResolveUnreachable(t *testing.T) {
	host, stop, err := ocitest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	_, err = oci.Resolve(context.Background(), host+"/bpf/counter:v1", nil)
	if err == nil || errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), host) {
		t.Fatalf("Resolve on a stopped registry = %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	ctx := context.Background()
	creds := &oci.Credentials{Username: "platform", Password: "s3cret:with-colon"}
	host := startRegistry(t, creds)
	ref := host + "/bpf/counter:v1"
	pushed, err := oci.Push(ctx, ref, counter, creds)
	if err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]*oci.Credentials{
		"none":  nil,
		"wrong": {Username: "platform", Password: "guess"},
	} {
		if _, err := oci.Resolve(ctx, ref, c); !errors.Is(err, oci.ErrUnauthorized) {
			t.Errorf("%s credentials: Resolve = %v, want ErrUnauthorized", name, err)
		}
	}

	secret := dockerConfigJSON(host, creds)
	fromSecret, err := oci.CredentialsFromDockerConfig(secret, host)
	if err != nil || fromSecret == nil {
		t.Fatalf("CredentialsFromDockerConfig = %v, %v", fromSecret, err)
	}
	got, err := oci.Resolve(ctx, ref, fromSecret)
	if err != nil || got != pushed {
		t.Fatalf("Resolve with the secret's credentials = %s, %v; want %s", got, err, pushed)
	}
}

// dockerConfigJSON returns what `kubectl create secret docker-registry`
// stores under .dockerconfigjson.
func dockerConfigJSON(host string, c *oci.Credentials) []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
	return fmt.Appendf(nil, `{"auths":{%q:{"username":%q,"password":%q,"auth":%q}}}`,
		host, c.Username, c.Password, auth)
}

func TestNewRepositoryScheme(t *testing.T) {
	for ref, plain := range map[string]bool{
		"127.0.0.1:5000/a:v1":   true,
		"localhost:5000/a:v1":   true,
		"[::1]:5000/a:v1":       true,
		"quay.io/bpfman/a:v1":   false,
		"10.0.0.1:5000/a:v1":    false,
		"registry.local/a:v1":   false,
		"localhost.evil.io/a:1": false,
	} {
		repo, err := oci.NewRepository(ref, nil)
		if err != nil {
			t.Errorf("NewRepository(%s): %v", ref, err)
			continue
		}
		if repo.PlainHTTP != plain {
			t.Errorf("NewRepository(%s).PlainHTTP = %v, want %v", ref, repo.PlainHTTP, plain)
		}
	}
}

func TestParseReference(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1":                    "docker.io/library/nginx:1",
		"bpfman/xdp_pass:latest":     "docker.io/bpfman/xdp_pass:latest",
		"quay.io/bpfman/xdp_pass:v1": "quay.io/bpfman/xdp_pass:v1",
		"localhost/x:v1":             "localhost/x:v1",
		"127.0.0.1:5000/a/b/c:v1":    "127.0.0.1:5000/a/b/c:v1",
		"quay.io/bpfman/xdp_pass":    "quay.io/bpfman/xdp_pass",
	} {
		r, err := oci.ParseReference(in)
		if err != nil {
			t.Errorf("ParseReference(%s): %v", in, err)
			continue
		}
		if got := r.String(); got != want {
			t.Errorf("ParseReference(%s) = %s, want %s", in, got, want)
		}
	}
	if _, err := oci.ParseReference("Quay.io/UPPER:v1"); err == nil {
		t.Error("ParseReference accepted an upper-case repository")
	}
}
