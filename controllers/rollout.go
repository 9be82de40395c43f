package controllers

import (
	"cmp"
	"hash/fnv"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A rollout releases a program's latest generation to its nodes in an
// order fixed by rank (a hash of the program's UID and the node's name):
// canary nodes first, then the others, a batch at a time. The status
// records only how far the release went (Released, and the highest rank
// of the batches), so building a node's spec needs no list of nodes, and
// a node keeps its place in the order whatever other nodes come and go.

// defaultMaxUnavailable is the batch size without spec.rollout.
var defaultMaxUnavailable = intstr.FromString("25%")

// rank is a node's place in the rollout order of program uid.
func rank(uid types.UID, node string) int64 {
	h := fnv.New32a()
	h.Write([]byte(uid))
	h.Write([]byte{'/'})
	h.Write([]byte(node))
	return int64(h.Sum32())
}

// isCanary reports whether the rollout spec makes node a canary.
func isCanary(spec *bpfleetv1.RolloutSpec, node *corev1.Node) bool {
	return canarySelector(spec).Matches(labels.Set(node.Labels))
}

// canarySelector selects the canary nodes of a rollout spec: none without
// canaries, nor with an empty or invalid selector.
func canarySelector(spec *bpfleetv1.RolloutSpec) labels.Selector {
	if spec == nil || spec.Canary == nil {
		return labels.Nothing()
	}
	sel, err := metav1.LabelSelectorAsSelector(&spec.Canary.NodeSelector)
	if err != nil || sel.Empty() {
		return labels.Nothing()
	}
	return sel
}

// released reports whether the rollout lets a node (a canary or not, of
// rank r) run its generation.
func released(ro *bpfleetv1.RolloutStatus, canary bool, r int64) bool {
	switch ro.Released {
	case bpfleetv1.ReleaseAll:
		return true
	case bpfleetv1.ReleaseBatches:
		return canary || ro.RankBound != nil && r <= *ro.RankBound
	case bpfleetv1.ReleaseCanaries:
		return canary
	}
	return false
}

// rolloutNode is what the planner knows of one selected node.
type rolloutNode struct {
	name   string
	canary bool
	rank   int64
	// asked is the generation the node's spec holds (0: none), and
	// askedDigest the digest of its image ("" for a path).
	asked       int64
	askedDigest string
	// report is the node's status entry (nil: none).
	report *bpfleetv1.NodeProgramStatus
}

// runs reports whether the node was released gen: released by rank, or
// already asked to run it.
func (n rolloutNode) runs(ro *bpfleetv1.RolloutStatus) bool {
	return n.asked == ro.Generation || released(ro, n.canary, n.rank)
}

// done reports whether the node runs gen, or never will (its kernel cannot
// run the program): the next batch need not wait for it.
func (n rolloutNode) done(gen int64) bool {
	st := n.report
	return st != nil && st.Generation == gen && (st.State == bpfleetv1.StateReady || st.State == bpfleetv1.StateUnsupported)
}

// failed reports whether the node refused gen for good.
func (n rolloutNode) failed(gen int64) bool {
	st := n.report
	return st != nil && st.Generation == gen && st.State == bpfleetv1.StateFailed && st.Terminal
}

// planRollout moves the rollout of generation gen one step: it starts a new
// rollout for a new generation, halts on a node's terminal failure, and
// otherwise releases the next batch once every released node runs gen.
// complete reports that gen runs on every node; it is then released to
// all. Pure.
func planRollout(spec *bpfleetv1.RolloutSpec, gen int64, prev *bpfleetv1.RolloutStatus, nodes []rolloutNode) (ro bpfleetv1.RolloutStatus, complete bool) {
	ro = bpfleetv1.RolloutStatus{Generation: gen, Released: bpfleetv1.ReleaseNone}
	if prev != nil {
		ro.StableGeneration, ro.StableRevision = prev.StableGeneration, prev.StableRevision
		if prev.Generation == gen {
			ro.Released, ro.RankBound, ro.Halted = cmp.Or(prev.Released, bpfleetv1.ReleaseNone), prev.RankBound, prev.Halted
		}
	}
	nodes = slices.Clone(nodes) // sorted by rank here; the caller's order stays
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].rank < nodes[j].rank })
	if goesEverywhere(spec, ro.StableGeneration != 0, anyAsked(nodes, gen), false) {
		ro.Released, ro.RankBound = bpfleetv1.ReleaseAll, nil
	}
	allDone := true
	for _, n := range nodes {
		if n.runs(&ro) && n.failed(gen) {
			ro.Halted = true
		}
		allDone = allDone && (!n.runs(&ro) || n.done(gen))
	}
	if ro.Halted || !allDone {
		return ro, false
	}
	if spec == nil || !spec.Paused {
		releaseNext(&ro, spec, nodes)
	}
	for _, n := range nodes {
		if !n.runs(&ro) || !n.done(gen) {
			return ro, false
		}
	}
	// Every node runs gen, however it was asked (a plan handed to the
	// node passes and not written, see ahead): so may a node that joins.
	ro.Released, ro.RankBound = bpfleetv1.ReleaseAll, nil
	return ro, true
}

// releaseNext releases the next batch: the canary nodes while one is not
// released, or else the next maxUnavailable other nodes in rank order (the
// canaries stay released), or all of them where the generation goes
// everywhere (after its canaries).
func releaseNext(ro *bpfleetv1.RolloutStatus, spec *bpfleetv1.RolloutSpec, nodes []rolloutNode) {
	var canaries, others []rolloutNode
	for _, n := range nodes {
		if n.runs(ro) {
			continue
		}
		if n.canary {
			canaries = append(canaries, n)
		} else {
			others = append(others, n)
		}
	}
	if len(canaries) > 0 {
		ro.Released = bpfleetv1.ReleaseCanaries
		return
	}
	if len(others) == 0 {
		return
	}
	batch := min(batchSize(spec, len(nodes)), len(others))
	if goesEverywhere(spec, ro.StableGeneration != 0, anyAsked(nodes, ro.Generation), true) || batch == len(others) {
		ro.Released, ro.RankBound = bpfleetv1.ReleaseAll, nil // every node, and those that join later
		return
	}
	bound := others[batch-1].rank
	ro.Released, ro.RankBound = bpfleetv1.ReleaseBatches, &bound
}

// goesEverywhere is the one owner of the rollout's shortcut. A generation
// with nothing to protect (no generation reached every node before:
// hasStable is false; no node runs another one: olderRuns is false) goes
// to every node at once as soon as its spec lets any node have it: at
// once without canaries or a pause, with the canaries' batch once they
// run it (canariesDone), never while paused.
func goesEverywhere(spec *bpfleetv1.RolloutSpec, hasStable, olderRuns, canariesDone bool) bool {
	if hasStable || olderRuns || spec != nil && spec.Paused {
		return false
	}
	return spec == nil || spec.Canary == nil || canariesDone
}

// goesEverywhereUnplanned reports whether a program no rollout has
// planned yet goes to a node that does not run it (old is nil): where
// planRollout would send it everywhere at once (goesEverywhere), it may
// go before the plan is written, which saves each node a second write of
// its set when many programs come at once.
func goesEverywhereUnplanned(p bpfleetv1.Program, old *bpfleetv1.NodeProgram) bool {
	return p.ProgramStatus().Rollout == nil && imageResolved(p) && goesEverywhere(p.Source().Rollout, false, old != nil, false)
}

// anyAsked reports whether some node's spec holds a generation other than
// gen: the program ran somewhere before.
func anyAsked(nodes []rolloutNode, gen int64) bool {
	for _, n := range nodes {
		if n.asked != 0 && n.asked != gen {
			return true
		}
	}
	return false
}

// batchSize is spec's maxUnavailable for n selected nodes: at least 1.
func batchSize(spec *bpfleetv1.RolloutSpec, n int) int {
	mu := &defaultMaxUnavailable
	if spec != nil && spec.MaxUnavailable != nil {
		mu = spec.MaxUnavailable
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(mu, n, true)
	if err != nil || v < 1 {
		return 1
	}
	return v
}

// nextRollout is the program's rollout moved one step on (planRollout),
// or nil while its image is not resolved: nothing is released then. Once
// its generation runs on every node, that generation is the stable one
// that new nodes get, kept in the revision it names (stableRevision; the
// program reconciler writes it). Pure.
func nextRollout(kind string, obj bpfleetv1.Program, nodes []rolloutNode) *bpfleetv1.RolloutStatus {
	if !imageResolved(obj) {
		return nil
	}
	next, complete := planRollout(obj.Source().Rollout, obj.GetGeneration(), obj.ProgramStatus().Rollout, nodes)
	if complete {
		next.StableGeneration, next.StableRevision = obj.GetGeneration(), revisionName(kind, obj)
	}
	return &next
}
