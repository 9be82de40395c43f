package controllers

import (
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

func entry(gen int64, state bpfleetv1.ProgramState, reason string, terminal bool) *bpfleetv1.NodeProgramStatus {
	return &bpfleetv1.NodeProgramStatus{Generation: gen, State: state, Reason: reason, Terminal: terminal, Message: reason}
}

func TestSummarizeConditions(t *testing.T) {
	ready := entry(2, bpfleetv1.StateReady, "", false)
	cases := []struct {
		name            string
		reports         map[string]*bpfleetv1.NodeProgramStatus
		ready, stalled  metav1.ConditionStatus
		reconciling     metav1.ConditionStatus
		reason, summary string
	}{
		{"no node selected", nil, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, bpfleetv1.ReasonNoNodesSelected, "0/0"},
		{"all ready", map[string]*bpfleetv1.NodeProgramStatus{"a": ready, "b": ready},
			metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, bpfleetv1.ReasonReady, "2/2"},
		{"node not reported yet", map[string]*bpfleetv1.NodeProgramStatus{"a": ready, "b": nil},
			metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, bpfleetv1.ReasonProgressing, "1/2"},
		{"node on an old generation", map[string]*bpfleetv1.NodeProgramStatus{"a": ready, "b": entry(1, bpfleetv1.StateReady, "", false)},
			metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, bpfleetv1.ReasonProgressing, "1/2"},
		{"verifier rejection stalls", map[string]*bpfleetv1.NodeProgramStatus{"a": ready, "b": entry(2, bpfleetv1.StateFailed, bpfleetv1.ReasonVerifierRejected, true)},
			metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, bpfleetv1.ReasonVerifierRejected, "1/2"},
		{"pull failure retries", map[string]*bpfleetv1.NodeProgramStatus{"a": entry(2, bpfleetv1.StateFailed, bpfleetv1.ReasonImagePullFailed, false)},
			metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, bpfleetv1.ReasonNodeFailures, "0/1"},
		{"unsupported nodes do not fail", map[string]*bpfleetv1.NodeProgramStatus{"a": ready, "b": entry(2, bpfleetv1.StateUnsupported, bpfleetv1.ReasonUnsupported, true)},
			metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, bpfleetv1.ReasonReady, "1/2"},
		{"unsupported everywhere is ready, saying so", map[string]*bpfleetv1.NodeProgramStatus{"a": entry(2, bpfleetv1.StateUnsupported, bpfleetv1.ReasonUnsupported, true)},
			metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, bpfleetv1.ReasonUnsupported, "0/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum := summarize(2, tc.reports)
			r, rec, st := sum.conditions()
			if r.Status != tc.ready || st.Status != tc.stalled || rec.Status != tc.reconciling || r.Reason != tc.reason {
				t.Errorf("Ready=%s/%s Reconciling=%s Stalled=%s, want Ready=%s/%s Reconciling=%s Stalled=%s",
					r.Status, r.Reason, rec.Status, st.Status, tc.ready, tc.reason, tc.reconciling, tc.stalled)
			}
			if sum.counts.Summary != tc.summary {
				t.Errorf("summary = %q, want %q", sum.counts.Summary, tc.summary)
			}
		})
	}
}

// TestPodTargetConditions: a program whose pod selectors match no pod on
// any node is Ready with reason NoTargets, never a silent success; one
// that failed in a pod is not Ready, and retries.
func TestPodTargetConditions(t *testing.T) {
	pods := func(matched, attached, failed int32) *bpfleetv1.NodeProgramStatus {
		e := entry(1, bpfleetv1.StateReady, "", false)
		e.Pods = &bpfleetv1.PodTargetsStatus{Matched: matched, Attached: attached, Failed: failed}
		if failed > 0 {
			e.Pods.Failures = []bpfleetv1.PodFailure{{Pod: "team-a/web-2", Message: "eth0: no such interface"}}
		}
		return e
	}
	cases := []struct {
		name    string
		reports map[string]*bpfleetv1.NodeProgramStatus
		ready   metav1.ConditionStatus
		reason  string
		summary string
		message string
	}{
		{"no pod anywhere", map[string]*bpfleetv1.NodeProgramStatus{"a": pods(0, 0, 0), "b": pods(0, 0, 0)},
			metav1.ConditionTrue, bpfleetv1.ReasonNoTargets, "0/0", "no running pod on them matches"},
		{"attached everywhere", map[string]*bpfleetv1.NodeProgramStatus{"a": pods(2, 2, 0), "b": pods(0, 0, 0)},
			metav1.ConditionTrue, bpfleetv1.ReasonReady, "2/2", "attached in 2 of 2 matched pods"},
		{"one pod failed", map[string]*bpfleetv1.NodeProgramStatus{"a": pods(2, 1, 1), "b": pods(1, 1, 0)},
			metav1.ConditionFalse, bpfleetv1.ReasonPodTargetsFailed, "2/3", "a: team-a/web-2: eth0: no such interface"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum := summarize(1, tc.reports)
			r, rec, _ := sum.conditions()
			if r.Status != tc.ready || r.Reason != tc.reason || !strings.Contains(r.Message, tc.message) {
				t.Errorf("Ready=%s/%s %q, want %s/%s containing %q", r.Status, r.Reason, r.Message, tc.ready, tc.reason, tc.message)
			}
			if (rec.Status == metav1.ConditionTrue) != (tc.ready == metav1.ConditionFalse) {
				t.Errorf("Reconciling=%s with Ready=%s", rec.Status, r.Status)
			}
			if sum.pods == nil || sum.pods.Summary != tc.summary {
				t.Errorf("pods %+v, want summary %q", sum.pods, tc.summary)
			}
		})
	}
	if sum := summarize(1, map[string]*bpfleetv1.NodeProgramStatus{"a": entry(1, bpfleetv1.StateReady, "", false)}); sum.pods != nil {
		t.Errorf("a program without pod targets has pods %+v", sum.pods)
	}
}

func TestFailuresAreBounded(t *testing.T) {
	reports := map[string]*bpfleetv1.NodeProgramStatus{}
	for i := range 25 {
		reports[string(rune('a'+i))] = entry(1, bpfleetv1.StateFailed, bpfleetv1.ReasonAttachFailed, false)
	}
	sum := summarize(1, reports)
	if len(sum.failures) != maxFailures || sum.counts.Failed != 25 {
		t.Errorf("failures listed %d (want %d), counted %d (want 25)", len(sum.failures), maxFailures, sum.counts.Failed)
	}
}

func TestSilentAgents(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }
	set := func(created time.Duration, last *metav1.Time) *nodeState {
		s := &nodeState{NodeProgramSet: &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: *at(created)}}}
		s.Report.LastSync = last
		return s
	}
	lease := func(renewed time.Duration, seconds int32) *coordinationv1.Lease {
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{
			RenewTime: &metav1.MicroTime{Time: now.Add(-renewed)}, LeaseDurationSeconds: &seconds,
		}}
	}
	cases := []struct {
		name  string
		set   *nodeState
		lease *coordinationv1.Lease
		want  bool
	}{
		{"reported a minute ago", set(time.Hour, at(time.Minute)), nil, false},
		{"silent for ten minutes", set(time.Hour, at(10*time.Minute)), nil, true},
		{"new set, no report yet", set(time.Minute, nil), nil, false},
		{"old set that never reported", set(time.Hour, nil), nil, true},
		{"old report, Lease renewed a minute ago", set(time.Hour, at(time.Hour)), lease(time.Minute, 180), false},
		{"old report, Lease expired", set(time.Hour, at(time.Hour)), lease(4*time.Minute, 180), true},
		{"Lease longer than the default", set(time.Hour, nil), lease(4*time.Minute, 600), false},
	}
	for _, tc := range cases {
		if got := silent(tc.set, tc.lease, now); got != tc.want {
			t.Errorf("%s: silent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The operator hears of an agent's Lease only when the agent comes back
// after it expired, not on every renewal.
func TestAgentReturned(t *testing.T) {
	now := time.Now()
	lease := func(renewed time.Time) *coordinationv1.Lease {
		seconds := int32(180)
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{
			RenewTime: &metav1.MicroTime{Time: renewed}, LeaseDurationSeconds: &seconds,
		}}
	}
	p := agentReturned()
	if p.Update(event.UpdateEvent{ObjectOld: lease(now.Add(-45 * time.Second)), ObjectNew: lease(now)}) {
		t.Error("a routine renewal passed")
	}
	if !p.Update(event.UpdateEvent{ObjectOld: lease(now.Add(-10 * time.Minute)), ObjectNew: lease(now)}) {
		t.Error("a renewal after the Lease expired did not pass")
	}
}

// A report is read with its node's set only when that set controls it: a
// report left from an earlier set of the same name says nothing.
func TestReportOfAnotherSetIgnored(t *testing.T) {
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n", UID: "set-now"}}
	report := func(owner types.UID) *bpfleetv1.NodeProgramReport {
		r := &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
		r.Status.SetGeneration = 7
		if owner != "" {
			earlier := set.DeepCopy()
			earlier.UID = owner
			r.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(earlier, bpfleetv1.GroupVersion.WithKind("NodeProgramSet"))}
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		report *bpfleetv1.NodeProgramReport
		want   int64
	}{
		{"the set's", report("set-now"), 7},
		{"an earlier set's", report("set-before"), 0},
		{"owned by none", report(""), 0},
		{"none yet", nil, 0},
	} {
		if got := withReport(set, tc.report).Report.SetGeneration; got != tc.want {
			t.Errorf("%s report: read setGeneration %d, want %d", tc.name, got, tc.want)
		}
	}
}

// A report that only changes owner (its node's set made anew, the agent
// reporting on the new one) is an event for the reconcilers that read
// reports through a predicate.
func TestReportOwnerChangeIsAnEvent(t *testing.T) {
	controller := true
	owned := func(uid types.UID) *bpfleetv1.NodeProgramReport {
		return &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "n",
			OwnerReferences: []metav1.OwnerReference{{Kind: "NodeProgramSet", Name: "n", UID: uid, Controller: &controller}}}}
	}
	for name, p := range map[string]predicate.Funcs{"capabilities": changed(capabilitiesPart), "policies": changed(policiesPart)} {
		if !p.Update(event.UpdateEvent{ObjectOld: owned("set-before"), ObjectNew: owned("set-now")}) {
			t.Errorf("%s: a new owner is no event", name)
		}
		if p.Update(event.UpdateEvent{ObjectOld: owned("set-now"), ObjectNew: owned("set-now")}) {
			t.Errorf("%s: nothing changed, yet an event", name)
		}
	}
}

// A reason a node's agent wrote that a condition cannot carry becomes
// NodeFailures: the API server would refuse the whole status otherwise.
func TestNodeReasonsMadeValid(t *testing.T) {
	for reason, want := range map[string]string{
		bpfleetv1.ReasonVerifierRejected: bpfleetv1.ReasonVerifierRejected,
		"not a reason!":                  bpfleetv1.ReasonNodeFailures,
		"":                               bpfleetv1.ReasonNodeFailures,
		strings.Repeat("A", 2000):        bpfleetv1.ReasonNodeFailures,
	} {
		sum := summarize(1, map[string]*bpfleetv1.NodeProgramStatus{"a": entry(1, bpfleetv1.StateFailed, reason, true)})
		var conds []metav1.Condition
		ready, _, stalled := sum.conditions()
		setConditions(&conds, 1, ready, stalled)
		for _, c := range conds {
			if c.Reason != want {
				t.Errorf("node reason %.20q: %s reason %.20q, want %q", reason, c.Type, c.Reason, want)
			}
		}
		if got := sum.failures[0].Reason; got != want {
			t.Errorf("node reason %.20q: failure reason %.20q, want %q", reason, got, want)
		}
	}
}
