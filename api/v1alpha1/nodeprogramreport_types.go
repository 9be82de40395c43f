package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=npr,categories=bpfleet
// +kubebuilder:printcolumn:name="Set Generation",type=integer,JSONPath=`.status.setGeneration`
// +kubebuilder:printcolumn:name="Kernel",type=string,JSONPath=`.status.capabilities.kernelRelease`
// +kubebuilder:printcolumn:name="Reported",type=date,JSONPath=`.status.lastSync`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// NodeProgramReport is what one node really runs: named after its node,
// owned by the node's NodeProgramSet, written by the node's agent only.
//
// It is an object of its own, not the set's status, because each write of
// an object costs the API server in proportion to the whole object: with
// the report in the set, every report rewrote the spec beside it and every
// spec change the report (docs/benchmarks.md, "Scale"). There is no status
// subresource: the whole object is status, and its one writer replaces it.
type NodeProgramReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status NodeProgramReportStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// NodeProgramReportList is a list of NodeProgramReports.
type NodeProgramReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeProgramReport `json:"items"`
}

func init() {
	SchemeBuilder.Register(&NodeProgramReport{}, &NodeProgramReportList{})
}
