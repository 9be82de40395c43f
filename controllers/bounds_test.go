package controllers_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/statusmsg"
)

// A report an older or hostile agent wrote with a 100 KB message and
// verifier log does not freeze the program's status (a condition's message
// holds 32 KiB): the operator copies them cut, the status patch succeeds.
func TestHugeReportMessageBounded(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "huge-message"}
	createNode(t, "huge-1", sel)
	p := pathProgram("huge-message", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "huge-1", p)
	report(t, "huge-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)

	report(t, "huge-1", p, &bpfleetv1.NodeProgramStatus{
		State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonVerifierRejected, Terminal: true,
		Message:     "programs missing: " + strings.Repeat("prog_x, ", 100<<10/8),
		VerifierLog: strings.Repeat("0: (b7) r0 = 0\n", 100<<10/15) + "R1 invalid mem access 'scalar'",
	})
	got := waitCondition(t, p.Name, bpfleetv1.ConditionStalled, metav1.ConditionTrue, bpfleetv1.ReasonVerifierRejected)
	for _, c := range got.Status.Conditions {
		if len(c.Message) > statusmsg.Max {
			t.Errorf("%s message of %d bytes, want at most %d", c.Type, len(c.Message), statusmsg.Max)
		}
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReady)
	if ready == nil || !strings.Contains(ready.Message, "huge-1: programs missing: prog_x") {
		t.Errorf("Ready = %+v, want the head of the node's message", ready)
	}
	if len(got.Status.Failures) != 1 {
		t.Fatalf("failures = %d, want 1", len(got.Status.Failures))
	}
	f := got.Status.Failures[0]
	if len(f.Message) > statusmsg.Max || !strings.HasSuffix(f.Message, "bytes more)") {
		t.Errorf("failure message of %d bytes, ending %q", len(f.Message), f.Message[max(0, len(f.Message)-30):])
	}
	if len(f.VerifierLog) > statusmsg.MaxLog || !strings.HasSuffix(f.VerifierLog, "invalid mem access 'scalar'") {
		t.Errorf("verifier log of %d bytes, want at most %d ending with the verifier's reason", len(f.VerifierLog), statusmsg.MaxLog)
	}
	waitEvent(t, got, bpfleetv1.ReasonVerifierRejected)
}
