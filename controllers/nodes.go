package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
