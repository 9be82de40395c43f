package e2e

import (
	"context"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// An image whose config has no labels (built for an older bpfman, or by
// hand) runs: the operator reads its programs from the object, and the
// node loads it as it would a labelled one.
func TestUnlabeledImageRuns(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	ref := s.Registry + "/unlabeled/counter:v1"
	ocitest.PushUnlabeled(t, ref, bpf.TracepointCounter)
	p := counter("unlabeled-counter", ref, nil)
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, s.Client, p.Name)
	entry := nodeEntry(t, s.Client, got.UID)
	if !bpftoolShows(t, entry.ProgramID) {
		t.Fatalf("bpftool does not show program %d", entry.ProgramID)
	}
	before := countFor(t, entry.Objects.MapIDs["counts"])
	testkernel.OpenFiles(t, 3)
	if n := countFor(t, entry.Objects.MapIDs["counts"]) - before; n < 3 {
		t.Fatalf("counter rose by %d after 3 opens, want >= 3", n)
	}
	if err := s.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.Client, p.Name)
	assertGone(t, entry.ProgramID)
}
