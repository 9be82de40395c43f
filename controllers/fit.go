package controllers

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A node's set is one object, and the API server stores an object up to a
// size (etcd's --max-request-bytes, 1.5 MiB by default; 3 MiB for a
// request's body). A set asked to hold more is refused whole, and with it
// every removal and update it carried: the node would hold deleted
// programs forever. So when a set is refused for its size, the operator
// writes it without what does not fit: never a program the node runs
// (its entry stays as it is), never a removal; new programs and new
// generations go in oldest program first while they fit, and the others
// are listed as withheld, each reporting NodeSpecTooLarge for the node.

// maxSetSpecBytes is what the operator fits a refused set's spec to:
// etcd's default request limit (1.5 MiB) less room for the metadata.
const maxSetSpecBytes = 1400 << 10

// tooLarge reports whether err is the API server refusing an object for
// its size: 413 for a request body over its limit, or etcd's "request is
// too large", which this API server returns as a 500.
func tooLarge(err error) bool {
	return err != nil && (apierrors.IsRequestEntityTooLargeError(err) || strings.Contains(err.Error(), "request is too large"))
}

// specInputs is what a node's spec is made from: the node, its kernel's
// capabilities (nil: not reported yet), the programs, the map policies,
// the cluster's signature policy and the reader of the programs' stable
// generations (nil: none).
type specInputs struct {
	node     *corev1.Node
	caps     *bpfleetv1.NodeCapabilities
	programs []KindedProgram
	policies []bpfleetv1.MapPolicy
	cluster  *bpfleetv1.ImageVerification
	stable   stableEntries
}

// desired is the node's whole spec (desiredSpec), given the current one.
// Pure.
func (in specInputs) desired(current bpfleetv1.NodeProgramSetSpec) bpfleetv1.NodeProgramSetSpec {
	return desiredSpec(in.node, in.caps, in.programs, in.policies, current, in.cluster, in.stable)
}

// fitted is the node's spec cut to budget bytes of programs: what the
// node runs stays, removals apply, additions and updates go in while they
// fit (fitPrograms). The map policies follow the programs kept. Pure.
func (in specInputs) fitted(current bpfleetv1.NodeProgramSetSpec, budget int) bpfleetv1.NodeProgramSetSpec {
	want := in.desired(current)
	progs, withheld := fitPrograms(want.Programs, current.Programs, in.programs, budget-jsonSize(want.MapPolicies))
	return bpfleetv1.NodeProgramSetSpec{
		Scheduled: true, Programs: progs, Withheld: withheld,
		MapPolicies: nodeMapPolicies(in.policies, in.programs, progs, current.MapPolicies, in.cluster),
	}
}

// change is an entry of want the node does not run yet: a new program, or
// a new generation of one it runs (old).
type change struct {
	entry bpfleetv1.NodeProgram
	old   *bpfleetv1.NodeProgram
}

// fitPrograms keeps want's entries the node runs as they are (current),
// and adds want's changes, oldest program first, while the entries weigh
// at most budget bytes in JSON; the changes left out are withheld. Pure.
func fitPrograms(want, current []bpfleetv1.NodeProgram, programs []KindedProgram, budget int) ([]bpfleetv1.NodeProgram, []bpfleetv1.WithheldProgram) {
	have := make(map[types.UID]*bpfleetv1.NodeProgram, len(current))
	for i := range current {
		have[current[i].UID] = &current[i]
	}
	out := make([]bpfleetv1.NodeProgram, 0, len(want))
	var changes []change
	for _, np := range want {
		old := have[np.UID]
		switch {
		case old == nil:
			changes = append(changes, change{entry: np})
		case equality.Semantic.DeepEqual(*old, np):
			out = append(out, np)
		default:
			out = append(out, *old)
			changes = append(changes, change{entry: np, old: old})
		}
	}
	sortOldestFirst(changes, programs)
	return applyWhileFits(out, changes, budget)
}

// applyWhileFits applies changes to entries in turn, each one that keeps
// them within budget bytes; it returns the entries and the changes left
// out.
func applyWhileFits(entries []bpfleetv1.NodeProgram, changes []change, budget int) ([]bpfleetv1.NodeProgram, []bpfleetv1.WithheldProgram) {
	size := 0
	for _, np := range entries {
		size += jsonSize(np) + 1
	}
	var withheld []bpfleetv1.WithheldProgram
	for _, c := range changes {
		grow := jsonSize(c.entry) + 1
		if c.old != nil {
			grow -= jsonSize(*c.old) + 1
		}
		if size+grow > budget {
			withheld = append(withheld, bpfleetv1.WithheldProgram{UID: c.entry.UID, Kind: c.entry.Kind, Namespace: c.entry.Namespace, Name: c.entry.Name, Generation: c.entry.Generation})
			continue
		}
		size += grow
		entries = replaceEntry(entries, c.entry)
	}
	slices.SortFunc(entries, func(a, b bpfleetv1.NodeProgram) int { return strings.Compare(string(a.UID), string(b.UID)) })
	return entries, withheld
}

// replaceEntry puts np in entries, in place of the entry of the same
// program if there is one.
func replaceEntry(entries []bpfleetv1.NodeProgram, np bpfleetv1.NodeProgram) []bpfleetv1.NodeProgram {
	i := slices.IndexFunc(entries, func(e bpfleetv1.NodeProgram) bool { return e.UID == np.UID })
	if i < 0 {
		return append(entries, np)
	}
	entries[i] = np
	return entries
}

// sortOldestFirst orders changes by their program's creation, then kind
// and name: the newest programs are the first left out.
func sortOldestFirst(changes []change, programs []KindedProgram) {
	created := make(map[types.UID]int64, len(programs))
	for _, kp := range programs {
		created[kp.Program.GetUID()] = kp.Program.GetCreationTimestamp().UnixNano()
	}
	slices.SortStableFunc(changes, func(a, b change) int {
		return cmp.Or(cmp.Compare(created[a.entry.UID], created[b.entry.UID]),
			strings.Compare(a.entry.Kind, b.entry.Kind), strings.Compare(a.entry.Name, b.entry.Name))
	})
}

// jsonSize is the length of v in JSON. API types always marshal.
func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

// withheldGeneration is the generation of uid that set withholds (0:
// none).
func withheldGeneration(set *bpfleetv1.NodeProgramSet, uid types.UID) int64 {
	for _, w := range set.Spec.Withheld {
		if w.UID == uid {
			return w.Generation
		}
	}
	return 0
}
