package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// nodeStates lists every node's set with its agent's report.
func nodeStates(ctx context.Context, c client.Reader) ([]nodeState, error) {
	var sets bpfleetv1.NodeProgramSetList
	if err := c.List(ctx, &sets, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list node program sets: %w", err)
	}
	var reports bpfleetv1.NodeProgramReportList
	if err := c.List(ctx, &reports, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list node program reports: %w", err)
	}
	byName := make(map[string]*bpfleetv1.NodeProgramReport, len(reports.Items))
	for i := range reports.Items {
		byName[reports.Items[i].Name] = &reports.Items[i]
	}
	out := make([]nodeState, len(sets.Items))
	for i := range sets.Items {
		out[i] = withReport(&sets.Items[i], byName[sets.Items[i].Name])
	}
	return out, nil
}

// withReport joins set and its node's report (nil: none yet). A report
// left from an earlier set of the same name is not this set's.
func withReport(set *bpfleetv1.NodeProgramSet, report *bpfleetv1.NodeProgramReport) nodeState {
	n := nodeState{NodeProgramSet: set}
	if report != nil && metav1.IsControlledBy(report, set) {
		n.Report = report.Status
	}
	return n
}
