package controllers

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// What a node gets of a policy follows the verdict of its checks: the
// spec once accepted; what the node has (current) while it is pending or
// refused; that, marked removing, once a refused policy is deleted.
func TestNodeMapPoliciesFollowTheVerdict(t *testing.T) {
	prog := program("prog", "", nil, nil)
	prog.Program.(*bpfleetv1.TracepointProgram).Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/opt/counter.o"}
	onNode := []bpfleetv1.NodeProgram{{UID: "prog"}}
	current := []bpfleetv1.NodeMapPolicy{{UID: "mp", Name: "mp", Generation: 1, MapName: "counts", Programs: []types.UID{"prog"}}}
	accepted := []bpfleetv1.NodeMapPolicy{{UID: "mp", Name: "mp", Generation: 2, MapName: "flows", Programs: []types.UID{"prog"}}}
	policy := func(observed int64, reason string, deleting bool) bpfleetv1.MapPolicy {
		mp := bpfleetv1.MapPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "mp", UID: "mp", Generation: 2, Finalizers: []string{bpfleetv1.Finalizer}},
			Spec: bpfleetv1.MapPolicySpec{MapName: "flows",
				Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: "prog"}}}},
			Status: bpfleetv1.MapPolicyStatus{ObservedGeneration: observed},
		}
		if reason != "" {
			mp.Status.Conditions = []metav1.Condition{{Type: bpfleetv1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, ObservedGeneration: observed}}
		}
		if deleting {
			now := metav1.Now()
			mp.DeletionTimestamp = &now
			mp.Generation++
		}
		return mp
	}
	for _, tc := range []struct {
		name    string
		mp      bpfleetv1.MapPolicy
		current []bpfleetv1.NodeMapPolicy
		want    string
	}{
		{"accepted", policy(2, "", false), current, "[gen 2 flows]"},
		{"stalled on a node, accepted here", policy(2, bpfleetv1.ReasonInvalidSpec, false), current, "[gen 2 flows]"},
		{"pending", policy(1, "", false), current, "[gen 1 counts]"},
		{"pending, new", policy(1, "", false), nil, "[]"},
		{"refused", policy(2, bpfleetv1.ReasonImageMismatch, false), current, "[gen 1 counts]"},
		{"refused, new", policy(2, bpfleetv1.ReasonMapNotWritable, false), nil, "[]"},
		{"refused, deleted", policy(2, bpfleetv1.ReasonImageMismatch, true), current, "[gen 3 counts removing]"},
		{"refused, deleted, never sent", policy(2, bpfleetv1.ReasonImageMismatch, true), nil, "[]"},
		{"accepted, deleted", policy(2, "", true), accepted, "[gen 3 flows removing]"},
		{"accepted, deleted, never sent", policy(2, "", true), nil, "[]"},
		{"edited, deleted before the edit was checked", policy(1, "", true), current, "[gen 3 counts removing]"},
	} {
		got := nodeMapPolicies([]bpfleetv1.MapPolicy{tc.mp}, []KindedProgram{prog}, onNode, tc.current, nil)
		var said []string
		for _, nmp := range got {
			s := fmt.Sprintf("gen %d %s", nmp.Generation, nmp.MapName)
			if nmp.Removing {
				s += " removing"
			}
			said = append(said, s)
		}
		if "["+strings.Join(said, ", ")+"]" != tc.want {
			t.Errorf("%s: node gets %v, want %s", tc.name, said, tc.want)
		}
	}
}
