package controllers

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/statusmsg"
)

// Status aggregation lives here, for programs and MapPolicies alike: each
// node's entry for a resource (its report, or what its silence or its
// kernel says), added up into node counts, failures and the Ready,
// Reconciling and Stalled conditions, with what the rollout holds back.
// Nothing here calls the API server: the reconcilers list, this file
// computes.

// maxFailures bounds the failures (and map usages) a status lists.
const maxFailures = 10

// rollup is what the selected nodes report about one program generation.
type rollup struct {
	counts   bpfleetv1.NodeCounts
	pending  int32
	terminal bool // some node failed in a way only a spec change can fix
	failures []bpfleetv1.NodeFailure
	// unsupportedWhy is what the first unsupported node lacks.
	unsupportedWhy string
	// pods adds up the pod targets of the ready nodes (nil: the program
	// has none), and podFailure is the first pod that failed.
	pods       *bpfleetv1.PodsSummary
	podFailure string
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
	if r.pods != nil {
		r.pods.Summary = fmt.Sprintf("%d/%d", r.pods.Attached, r.pods.Matched)
	}
	return r
}

// addPods adds node's pod targets to the rollup.
func (r *rollup) addPods(node string, p *bpfleetv1.PodTargetsStatus) {
	if p == nil {
		return
	}
	if r.pods == nil {
		r.pods = &bpfleetv1.PodsSummary{}
	}
	r.pods.Matched += p.Matched
	r.pods.Attached += p.Attached
	r.pods.Failed += p.Failed
	if r.podFailure == "" && len(p.Failures) > 0 {
		r.podFailure = node + ": " + p.Failures[0].Pod + ": " + statusmsg.Bound(p.Failures[0].Message)
	}
}

func (r *rollup) add(node string, gen int64, st *bpfleetv1.NodeProgramStatus) {
	switch {
	case st == nil || st.Generation != gen:
		r.pending++
	case st.State == bpfleetv1.StateReady:
		r.counts.Ready++
		r.addPods(node, st.Pods)
	case st.State == bpfleetv1.StateUnsupported:
		r.counts.Unsupported++
		if r.unsupportedWhy == "" {
			r.unsupportedWhy = statusmsg.Bound(st.Message)
		}
	case st.State == bpfleetv1.StateFailed:
		r.counts.Failed++
		r.terminal = r.terminal || st.Terminal
		if len(r.failures) < maxFailures {
			r.failures = append(r.failures, nodeFailure(node, st))
		}
	default:
		r.pending++
	}
}

// nodeFailure is node's failure as the program's status lists it: what
// its agent wrote, cut to bounds (an older or hostile agent may not have).
func nodeFailure(node string, st *bpfleetv1.NodeProgramStatus) bpfleetv1.NodeFailure {
	return bpfleetv1.NodeFailure{
		Node: node, Reason: conditionReason(st.Reason), Message: statusmsg.Bound(st.Message), VerifierLog: statusmsg.Tail(st.VerifierLog),
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
	return r.podConditions()
}

// podConditions are the conditions of a program running where it can:
// Ready, unless it failed to attach in a pod it matches; NoTargets if its
// pod selectors match no pod at all.
func (r rollup) podConditions() (ready, reconciling, stalled metav1.Condition) {
	msg := readyMessage(r.counts, r.unsupportedWhy)
	switch p := r.pods; {
	case p == nil:
	case p.Failed > 0:
		msg = fmt.Sprintf("%s; attached in %d of %d matched pods, failed in %d, retrying: %s", msg, p.Attached, p.Matched, p.Failed, r.podFailure)
		return cond(bpfleetv1.ConditionReady, false, bpfleetv1.ReasonPodTargetsFailed, msg),
			cond(bpfleetv1.ConditionReconciling, true, bpfleetv1.ReasonPodTargetsFailed, msg), notStalled()
	case p.Matched == 0:
		msg += "; no running pod on them matches its pod selectors: nothing is attached"
		return cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonNoTargets, msg), notReconciling(), notStalled()
	default:
		msg += fmt.Sprintf("; attached in %d of %d matched pods", p.Attached, p.Matched)
	}
	return cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonReady, msg), notReconciling(), notStalled()
}

// readyMessage says where a Ready program runs, and why the nodes that
// cannot run it cannot (the first one's reason).
func readyMessage(c bpfleetv1.NodeCounts, unsupportedWhy string) string {
	msg := fmt.Sprintf("running on %d of %d nodes", c.Ready, c.Selected)
	if c.Unsupported > 0 {
		msg += fmt.Sprintf(", %d cannot run it (%s)", c.Unsupported, unsupportedWhy)
	}
	return msg
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
// whose status does not change keeps its transition time. A condition of
// an abnormal-true type that is False is removed instead, as Flux does:
// kstatus reads it absent as False, and the status of a healthy resource,
// which every write of it carries whole, stays small. Every message is
// bounded and every reason valid here, whatever a node's agent wrote: one
// condition the API server refuses would freeze the whole status.
func setConditions(conditions *[]metav1.Condition, gen int64, conds ...metav1.Condition) {
	for _, c := range conds {
		if c.Status == metav1.ConditionFalse && abnormalTrue[c.Type] {
			meta.RemoveStatusCondition(conditions, c.Type)
			continue
		}
		c.ObservedGeneration = gen
		c.Message = statusmsg.Bound(c.Message)
		c.Reason = conditionReason(c.Reason)
		meta.SetStatusCondition(conditions, c)
	}
}

// abnormalTrue are the condition types that say something is wrong or in
// flight when True: present only while they are.
var abnormalTrue = map[string]bool{
	bpfleetv1.ConditionReconciling: true, bpfleetv1.ConditionStalled: true, bpfleetv1.ConditionMapFull: true,
}

// reasonPattern is what the API server accepts as a condition's reason.
var reasonPattern = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// conditionReason is reason if a condition may carry it, else
// NodeFailures: a reason comes from a node's report, unchecked.
func conditionReason(reason string) string {
	if len(reason) > 64 || !reasonPattern.MatchString(reason) {
		return bpfleetv1.ReasonNodeFailures
	}
	return reason
}

// aggregateProgram writes a program's status from its selected nodes: its
// rollout one step on, node counts, failures and conditions. Pure.
func aggregateProgram(kind string, obj bpfleetv1.Program, nodes []rolloutNode) {
	st := obj.ProgramStatus()
	ro := nextRollout(kind, obj, nodes)
	if ro != nil {
		ro.Generations = generationCounts(nodes)
		st.Rollout = ro
	}
	sum := summarize(obj.GetGeneration(), reportsOf(nodes))
	st.Nodes, st.Failures, st.Pods = sum.counts, sum.failures, sum.pods
	ready, reconciling, stalled := sum.conditions()
	ready, reconciling, stalled = rolloutConditions(obj.Source().Rollout, ro, nodes, ready, reconciling, stalled)
	setConditions(&st.Conditions, obj.GetGeneration(), ready, reconciling, stalled)
	if app, ok := obj.(perProgram); ok {
		app.SetProgramsStatus(programCounts(obj, reportsOf(nodes)))
	}
}

// perProgram is a kind whose status says where each of its programs runs
// (an application).
type perProgram interface {
	SetProgramsStatus([]bpfleetv1.ApplicationProgramStatus)
}

// programCounts counts, per program of obj, the nodes whose report at
// obj's generation says it runs, or cannot (an optional program whose hook
// the node lacks). Pure.
func programCounts(obj bpfleetv1.Program, reports map[string]*bpfleetv1.NodeProgramStatus) []bpfleetv1.ApplicationProgramStatus {
	attachments := obj.Attachments()
	out := make([]bpfleetv1.ApplicationProgramStatus, len(attachments))
	at := make(map[string]*bpfleetv1.ApplicationProgramStatus, len(attachments))
	for i, a := range attachments {
		out[i].Name = a.Name
		at[a.Name] = &out[i]
	}
	for _, r := range reports {
		if r == nil || r.Generation != obj.GetGeneration() {
			continue
		}
		for _, p := range r.Programs {
			switch c := at[p.Name]; {
			case c == nil:
			case p.State == bpfleetv1.StateReady:
				c.Ready++
			case p.State == bpfleetv1.StateUnsupported:
				c.Unsupported++
			}
		}
	}
	return out
}

func reportsOf(nodes []rolloutNode) map[string]*bpfleetv1.NodeProgramStatus {
	out := make(map[string]*bpfleetv1.NodeProgramStatus, len(nodes))
	for _, n := range nodes {
		out[n.name] = n.report
	}
	return out
}

// report is a node's entry for the program at now; for a node whose
// kernel lacks the program's hook, an Unsupported entry saying what is
// missing.
func report(set *nodeState, lease *coordinationv1.Lease, obj bpfleetv1.Program, kind string, now time.Time) *bpfleetv1.NodeProgramStatus {
	if set == nil {
		return nil
	}
	if silent(set, lease, now) {
		return &bpfleetv1.NodeProgramStatus{
			UID: obj.GetUID(), Generation: obj.GetGeneration(),
			State: bpfleetv1.StatePending, Reason: bpfleetv1.ReasonAgentNotReporting,
			Message: fmt.Sprintf("the node's agent has given no sign of life since %s", lastSeen(set, lease)),
		}
	}
	if why := unsupportedHook(set.Report.Capabilities, kind, obj); why != "" {
		return &bpfleetv1.NodeProgramStatus{
			UID: obj.GetUID(), Generation: obj.GetGeneration(),
			State: bpfleetv1.StateUnsupported, Reason: bpfleetv1.ReasonUnsupported, Terminal: true,
			Message: why,
		}
	}
	if gen := withheldGeneration(set.NodeProgramSet, obj.GetUID()); gen != 0 && gen == obj.GetGeneration() {
		return &bpfleetv1.NodeProgramStatus{
			UID: obj.GetUID(), Generation: gen,
			State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonNodeSpecTooLarge,
			Message: "the node's NodeProgramSet cannot hold this generation besides the programs the node runs: " +
				"the object would be larger than the API server stores; the node keeps what it runs. " +
				"Remove programs from the node or make their globalData smaller",
		}
	}
	return statusEntry(set, obj.GetUID())
}

// lastSeen says when a silent agent last renewed its Lease or reported.
func lastSeen(set *nodeState, lease *coordinationv1.Lease) string {
	var report, renewed time.Time
	if set.Report.LastSync != nil {
		report = set.Report.LastSync.Time
	}
	if lease != nil && lease.Spec.RenewTime != nil {
		renewed = lease.Spec.RenewTime.Time
	}
	switch {
	case renewed.IsZero() && report.IsZero():
		return "its node's set was created (never)"
	case renewed.After(report):
		return renewed.UTC().Format(time.RFC3339) + " (its Lease)"
	}
	return report.UTC().Format(time.RFC3339) + " (its last report)"
}

func statusEntry(set *nodeState, uid types.UID) *bpfleetv1.NodeProgramStatus {
	if set == nil {
		return nil
	}
	return entryOf(set.Report.Programs, uid, reportUID)
}

// generationCounts counts, per generation asked or reported, the nodes
// updated to it, running it and pending, newest first.
func generationCounts(nodes []rolloutNode) []bpfleetv1.GenerationNodes {
	by := map[int64]*bpfleetv1.GenerationNodes{}
	get := func(g int64) *bpfleetv1.GenerationNodes {
		if by[g] == nil {
			by[g] = &bpfleetv1.GenerationNodes{Generation: g}
		}
		return by[g]
	}
	for _, n := range nodes {
		if n.asked != 0 {
			c := get(n.asked)
			c.Updated++
			c.Digest = cmp.Or(c.Digest, n.askedDigest)
			if st := n.report; st == nil || st.Generation != n.asked || st.State != bpfleetv1.StateReady {
				c.Pending++
			}
		}
		if st := n.report; st != nil && st.Generation != 0 && st.State == bpfleetv1.StateReady {
			get(st.Generation).Ready++
		}
	}
	out := make([]bpfleetv1.GenerationNodes, 0, len(by))
	for _, g := range slices.Backward(slices.Sorted(maps.Keys(by))) {
		out = append(out, *by[g])
	}
	return out
}

// rolloutConditions overrides the conditions of the nodes' reports where
// the rollout holds a generation back: halted (Stalled, RolloutHalted,
// naming the failing nodes), or paused (Reconciling, RolloutPaused).
func rolloutConditions(spec *bpfleetv1.RolloutSpec, ro *bpfleetv1.RolloutStatus, nodes []rolloutNode, ready, reconciling, stalled metav1.Condition) (metav1.Condition, metav1.Condition, metav1.Condition) {
	if ro == nil {
		return ready, reconciling, stalled
	}
	var held int
	var failing []string
	var first *bpfleetv1.NodeProgramStatus
	for _, n := range nodes {
		switch {
		case !n.runs(ro):
			held++
		case n.failed(ro.Generation):
			failing = append(failing, n.name)
			if first == nil {
				first = n.report
			}
		}
	}
	switch {
	case held == 0:
		return ready, reconciling, stalled
	case ro.Halted && first != nil:
		msg := fmt.Sprintf("generation %d failed on %s (%s: %s); %d nodes keep the previous generation",
			ro.Generation, strings.Join(failing[:min(len(failing), 5)], ", "), first.Reason, first.Message, held)
		return cond(bpfleetv1.ConditionReady, false, bpfleetv1.ReasonRolloutHalted, msg), notReconciling(),
			cond(bpfleetv1.ConditionStalled, true, bpfleetv1.ReasonRolloutHalted, msg)
	case spec != nil && spec.Paused:
		msg := fmt.Sprintf("rollout paused: %d of %d nodes hold generation %d back", held, len(nodes), ro.Generation)
		return cond(bpfleetv1.ConditionReady, false, bpfleetv1.ReasonRolloutPaused, msg),
			cond(bpfleetv1.ConditionReconciling, true, bpfleetv1.ReasonRolloutPaused, msg), notStalled()
	}
	return ready, reconciling, stalled
}

// aggregatePolicy sums the nodes' reports into the policy's status.
func aggregatePolicy(mp *bpfleetv1.MapPolicy, sets []nodeState) {
	reports, usage := policyReports(mp, sets)
	sum := summarize(mp.Generation, reports)
	st := &mp.Status
	st.Nodes, st.Failures = sum.counts, sum.failures
	st.Usage = fullestFirst(usage)
	ready, reconciling, stalled := sum.conditions()
	if sum.counts.Selected == 0 {
		ready = cond(bpfleetv1.ConditionReady, true, bpfleetv1.ReasonNoPrograms, "no node runs a selected program")
	}
	setConditions(&st.Conditions, mp.Generation, ready, reconciling, stalled, mapFull(mp, st.Usage))
}

// policyReports maps each node that applies the policy to its report, as a
// program-like status so that summarize can add them up, and collects the
// maps' usage.
func policyReports(mp *bpfleetv1.MapPolicy, sets []nodeState) (map[string]*bpfleetv1.NodeProgramStatus, []bpfleetv1.MapUsage) {
	reports := map[string]*bpfleetv1.NodeProgramStatus{}
	var usage []bpfleetv1.MapUsage
	for i := range sets {
		set := &sets[i]
		if !appliesOn(set, mp.UID) {
			continue
		}
		reports[set.Name] = nil
		for _, ps := range set.Report.MapPolicies {
			if ps.UID != mp.UID {
				continue
			}
			reports[set.Name] = &bpfleetv1.NodeProgramStatus{
				Generation: ps.Generation, State: ps.State, Reason: ps.Reason, Message: ps.Message, Terminal: ps.Terminal,
			}
			if ps.MaxEntries > 0 {
				usage = append(usage, bpfleetv1.MapUsage{Node: set.Name, Entries: ps.Entries, MaxEntries: ps.MaxEntries})
			}
		}
	}
	return reports, usage
}

// fullestFirst keeps the ten fullest maps.
func fullestFirst(usage []bpfleetv1.MapUsage) []bpfleetv1.MapUsage {
	sort.Slice(usage, func(i, j int) bool {
		return fill(usage[i]) > fill(usage[j]) || fill(usage[i]) == fill(usage[j]) && usage[i].Node < usage[j].Node
	})
	if len(usage) > maxFailures {
		usage = usage[:maxFailures]
	}
	return usage
}

func fill(u bpfleetv1.MapUsage) float64 { return float64(u.Entries) / float64(u.MaxEntries) }

// mapFull is True when some node's map is fuller than the warning level.
func mapFull(mp *bpfleetv1.MapPolicy, usage []bpfleetv1.MapUsage) metav1.Condition {
	limit := float64(mp.Spec.FillWarningPercent) / 100
	if len(usage) > 0 && limit > 0 && fill(usage[0]) >= limit {
		u := usage[0]
		return cond(bpfleetv1.ConditionMapFull, true, bpfleetv1.ReasonMapFull,
			fmt.Sprintf("%s holds %d of %d entries (%.0f%%, warning at %d%%)", u.Node, u.Entries, u.MaxEntries, 100*fill(u), mp.Spec.FillWarningPercent))
	}
	return cond(bpfleetv1.ConditionMapFull, false, bpfleetv1.ReasonReady, "every map is below the fill warning")
}
