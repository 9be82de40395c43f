package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/internal/oci/ocitest"

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
	host := ocitest.HangOnDigests(t, s.Registry)
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
