package controllers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

const maxFailures = 10

// rollup is what the selected nodes report about one program generation.
type rollup struct {
	counts   bpfleetv1.NodeCounts
	pending  int32
	terminal bool // some node failed in a way only a spec change can fix
	failures []bpfleetv1.NodeFailure
	// unsupportedWhy is what the first unsupported node lacks.
	unsupportedWhy string
}

// summarize adds up the nodes' reports for generation gen. reports maps a
// selected node's name to its entry for the program (nil if it has none).
// Pure: no API calls.
func summarize(gen int64, reports map[string]*bpfleetv1.NodeProgramStatus) rollup {
	var r rollup
	r.counts.Selected = int32(len(reports))
	for _, node := range slices.Sorted(maps.Keys(reports)) {
		r.add(node, gen, reports[node])
	}
	r.counts.Summary = fmt.Sprintf("%d/%d", r.counts.Ready, r.counts.Selected)
	return r
}

func (r *rollup) add(node string, gen int64, st *bpfleetv1.NodeProgramStatus) {
	switch {
	case st == nil || st.Generation != gen:
		r.pending++
	case st.State == bpfleetv1.StateReady:
		r.counts.Ready++
	case st.State == bpfleetv1.StateUnsupported:
		r.counts.Unsupported++
		if r.unsupportedWhy == "" {
			r.unsupportedWhy = st.Message
		}
	case st.State == bpfleetv1.StateFailed:
		r.counts.Failed++
		r.terminal = r.terminal || st.Terminal
		if len(r.failures) < maxFailures {
			r.failures = append(r.failures, bpfleetv1.NodeFailure{
				Node: node, Reason: st.Reason, Message: st.Message, VerifierLog: st.VerifierLog,
			})
		}
	default:
		r.pending++
	}
}

// conditions turns a rollup into Ready, Reconciling and Stalled, following
// kstatus: a terminal failure is Stalled, work in flight is Reconciling.
func (r rollup) conditions() (ready, reconciling, stalled metav1.Condition) {
	c := r.counts
	switch {
	case c.Selected == 0:
		return cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonNoNodesSelected, "no node matches the nodeSelector"), notReconciling(), notStalled()
	case r.terminal:
		f := r.failures[0]
		msg := fmt.Sprintf("failed on %d of %d nodes: %s: %s", c.Failed, c.Selected, f.Node, f.Message)
		return cond(bpfleetv1.ConditionReady, false, f.Reason, msg), notReconciling(), cond(bpfleetv1.ConditionStalled, true, f.Reason, msg)
	case c.Unsupported == c.Selected:
		// Ready means running on every selected node that can run it (issue 3);
		// the reason and the unsupported count say that none can.
		msg := fmt.Sprintf("no selected node can run it (%d unsupported)", c.Unsupported)
		if r.unsupportedWhy != "" {
			msg += ": " + r.unsupportedWhy
		}
		return cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonUnsupported, msg), notReconciling(), notStalled()
	case c.Failed > 0:
		f := r.failures[0]
		msg := fmt.Sprintf("failing on %d of %d nodes, retrying: %s: %s", c.Failed, c.Selected, f.Node, f.Message)
		return cond(bpfleetv1.ConditionReady, false, bpfleetv1.ReasonNodeFailures, msg), cond(bpfleetv1.ConditionReconciling, true, f.Reason, msg), notStalled()
	case r.pending > 0:
		msg := fmt.Sprintf("running on %d of %d nodes, %d in progress", c.Ready, c.Selected, r.pending)
		return cond(bpfleetv1.ConditionReady, false, bpfleetv1.ReasonProgressing, msg), cond(bpfleetv1.ConditionReconciling, true, bpfleetv1.ReasonProgressing, msg), notStalled()
	}
	return cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonReady, readyMessage(c)), notReconciling(), notStalled()
}

func readyMessage(c bpfleetv1.NodeCounts) string {
	parts := []string{fmt.Sprintf("running on %d of %d nodes", c.Ready, c.Selected)}
	if c.Unsupported > 0 {
		parts = append(parts, fmt.Sprintf("%d cannot run it", c.Unsupported))
	}
	return strings.Join(parts, ", ")
}

func cond(typ string, ok bool, reason, msg string) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
}

func notReconciling() metav1.Condition {
	return cond(bpfleetv1.ConditionReconciling, false, bpfleetv1.ReasonReady, "nothing in progress")
}

func notStalled() metav1.Condition {
	return cond(bpfleetv1.ConditionStalled, false, bpfleetv1.ReasonReady, "not stalled")
}

// setConditions writes conditions with the observed generation; a condition
// whose status does not change keeps its transition time.
func setConditions(conditions *[]metav1.Condition, gen int64, conds ...metav1.Condition) {
	for _, c := range conds {
		c.ObservedGeneration = gen
		meta.SetStatusCondition(conditions, c)
	}
}
