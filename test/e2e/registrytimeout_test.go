package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// A registry that resolves the program's tag for the operator, then
// accepts the agent's pull and never answers, does not hang the agent:
// that program fails with ImagePullFailed, saying the registry timed out,
// and another program on the node becomes Ready meanwhile (issue 14).
func TestHangingRegistryFailsOnlyItsProgram(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	// An image no other test pulled: the agent's cache does not hold it.
	if _, err := oci.Push(ctx, s.Registry+"/hanging/counter:v1", oci.Bytecode{
		FileName: "hanging_" + time.Now().Format(time.RFC3339Nano) + ".o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	host := hangOnDigests(t, s.Registry)
	hanging := counter("from-hanging-registry", host+"/hanging/counter:v1", nil)
	beside := counter("beside-hanging-registry", s.Example, nil)
	start := time.Now()
	for _, p := range []*bpfleetv1.TracepointProgram{hanging, beside} {
		if err := s.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = s.Client.Delete(context.Background(), p)
			waitGone(t, s.Client, p.Name)
		})
	}
	waitReady(t, s.Client, beside.Name)
	ready := time.Since(start)
	got := waitFor(t, s.Client, hanging.Name, "a pull failure saying the registry timed out", func(p *bpfleetv1.TracepointProgram) bool {
		f := p.Status.Failures
		return len(f) == 1 && f[0].Reason == image.ReasonPullFailed && strings.Contains(f[0].Message, "registry "+host+" timed out")
	})
	t.Logf("beside a registry that never answers: the other program Ready after %v; the hanging one says: %s",
		ready.Round(time.Millisecond), got.Status.Failures[0].Message)
}

// hangOnDigests serves upstream's registry, except a manifest asked for
// by digest (the agent's pull; the operator resolves tags): that request
// gets no answer until the test ends.
func hangOnDigests(t *testing.T, upstream string) string {
	t.Helper()
	done := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/manifests/sha256:") {
			proxy.ServeHTTP(w, r)
			return
		}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.Listener.Addr().String()
}
