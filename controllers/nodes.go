package controllers

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// nodeState is one node as the operator sees it: the set it writes and
// the report the node's agent writes (zero until the agent reports). Both
// come from the cache: read-only.
type nodeState struct {
	*bpfleetv1.NodeProgramSet
	Report bpfleetv1.NodeProgramReportStatus
}

// +kubebuilder:rbac:groups=bpfleet.io,resources=nodeprogramreports,verbs=get;list;watch

// withReport joins set and its node's report (nil: none yet). A report
// left from an earlier set of the same name is not this set's.
func withReport(set *bpfleetv1.NodeProgramSet, report *bpfleetv1.NodeProgramReport) nodeState {
	n := nodeState{NodeProgramSet: set}
	if report != nil && metav1.IsControlledBy(report, set) {
		n.Report = report.Status
	}
	return n
}

// entryOf is the entry for uid in entries, nil if there is none. The
// operator writes a set's entries sorted by UID, and an agent reports in
// its set's order: a binary search finds the entry, where a pass over
// 1,000s of nodes would otherwise compare half of each node's entries.
// Entries in another order (a hand edit, an older writer) are looked
// through.
func entryOf[E any](entries []E, uid types.UID, uidOf func(*E) types.UID) *E {
	i := sort.Search(len(entries), func(i int) bool { return uidOf(&entries[i]) >= uid })
	if i < len(entries) && uidOf(&entries[i]) == uid {
		return &entries[i]
	}
	for i := range entries {
		if uidOf(&entries[i]) == uid {
			return &entries[i]
		}
	}
	return nil
}

func specUID(np *bpfleetv1.NodeProgram) types.UID         { return np.UID }
func reportUID(ps *bpfleetv1.NodeProgramStatus) types.UID { return ps.UID }
