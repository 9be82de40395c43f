package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A program's verifier rejections are counted while it is on the node,
// and its series goes when it leaves.
func TestRejectionSeriesGoWithTheProgram(t *testing.T) {
	CountLoad("XdpProgram", "stays", bpfleetv1.ReasonVerifierRejected)
	CountLoad("XdpProgram", "leaves", bpfleetv1.ReasonVerifierRejected)
	CountLoad("XdpProgram", "leaves", bpfleetv1.ReasonVerifierRejected)
	if got := testutil.ToFloat64(verifierRejections.WithLabelValues("XdpProgram", "leaves")); got != 2 {
		t.Fatalf("rejections of leaves = %v, want 2", got)
	}
	RetainRejections(map[ProgramRef]bool{{Kind: "XdpProgram", Name: "stays"}: true})
	if n := testutil.CollectAndCount(verifierRejections); n != 1 {
		t.Errorf("%d series after the program left, want 1 (stays)", n)
	}
	if got := testutil.ToFloat64(verifierRejections.WithLabelValues("XdpProgram", "stays")); got != 1 {
		t.Errorf("rejections of stays = %v, want 1", got)
	}
}
