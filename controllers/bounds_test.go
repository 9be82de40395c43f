package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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

// bigProgram is a program on sel whose entry in a node's set weighs about
// 30 KB: 64 globals with long names and 128-byte values.
func bigProgram(name string, sel map[string]string) *bpfleetv1.TracepointProgram {
	p := pathProgram(name, sel)
	p.Spec.GlobalData = map[string]bpfleetv1.GlobalValue{}
	for i := range 64 {
		p.Spec.GlobalData[fmt.Sprintf("%s_%02d", strings.Repeat("g", 200), i)] = bpfleetv1.GlobalValue("0x" + strings.Repeat("ab", 128))
	}
	return p
}

// A node whose set cannot hold every program that selects it (etcd stores
// objects up to 1.5 MiB) keeps what it runs, still receives removals, and
// each program that does not fit says so: NodeSpecTooLarge on that node.
func TestNodeSpecTooLargeWithholdsNewProgramsOnly(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "spec-too-large"}
	createNode(t, "big-1", sel)
	liveLease(t, "big-1")
	var running []*bpfleetv1.TracepointProgram
	for i := range 44 { // about 1.3 MB: fits
		p := bigProgram(fmt.Sprintf("big-%02d", i), sel)
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		running = append(running, p)
	}
	for _, p := range running {
		waitScheduled(t, "big-1", p)
	}
	report(t, "big-1", running[0], &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})

	var added []*bpfleetv1.TracepointProgram
	for i := range 10 { // about 300 KB more: the set would pass 1.5 MiB
		p := bigProgram(fmt.Sprintf("big-%02d", 44+i), sel)
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		added = append(added, p)
	}
	newest := added[len(added)-1]
	eventually(t, "the newest program withheld from big-1's set", func() (bool, error) {
		s, err := getSet("big-1")
		return err == nil && withholds(s, newest.UID), err
	})
	set, _ := getSet("big-1")
	for _, p := range running {
		if !holdsProgram(set, p.UID) {
			t.Errorf("%s, running on big-1, left its set", p.Name)
		}
	}
	if len(set.Spec.Programs)+len(set.Spec.Withheld) != 54 {
		t.Errorf("set holds %d and withholds %d programs, want 54 in all", len(set.Spec.Programs), len(set.Spec.Withheld))
	}
	eventually(t, newest.Name+" failing on big-1 with NodeSpecTooLarge", func() (bool, error) {
		got := getProgram(t, newest.Name)
		f := got.Status.Failures
		return got.Status.Nodes.Failed == 1 && len(f) == 1 && f[0].Node == "big-1" && f[0].Reason == bpfleetv1.ReasonNodeSpecTooLarge, nil
	})
	withheld := len(set.Spec.Withheld)

	// Deleting a running program completes: the set drops it (and makes
	// room for the oldest withheld program).
	if err := k8s.Delete(ctx, running[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, running[0].Name+" removed from big-1's set", func() (bool, error) {
		s, err := getSet("big-1")
		return err == nil && !holdsProgram(s, running[0].UID) && len(s.Spec.Withheld) < withheld, err
	})
	report(t, "big-1", running[0], nil) // the agent unloaded it
	waitGone(t, running[0].Name)
}

func withholds(s *bpfleetv1.NodeProgramSet, uid types.UID) bool {
	return slices.ContainsFunc(s.Spec.Withheld, func(w bpfleetv1.WithheldProgram) bool { return w.UID == uid })
}

func holdsProgram(s *bpfleetv1.NodeProgramSet, uid types.UID) bool {
	return slices.ContainsFunc(s.Spec.Programs, func(np bpfleetv1.NodeProgram) bool { return np.UID == uid })
}
