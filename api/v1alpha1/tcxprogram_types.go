package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TcxProgramSpec says what program to run where, and on which hook.
type TcxProgramSpec struct {
	ProgramCommon `json:",inline"`

	TCX TCXAttach `json:"tcx"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tcx,categories=bpfleet
// +kubebuilder:printcolumn:name="Direction",type=string,JSONPath=`.spec.tcx.direction`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// TcxProgram runs an eBPF program on the TCX hook of network interfaces on the selected nodes.
type TcxProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TcxProgramSpec `json:"spec"`
	Status ProgramStatus  `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// TcxProgramList is a list of TcxPrograms.
type TcxProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TcxProgram `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TcxProgram{}, &TcxProgramList{})
}

// Common returns the spec every kind shares.
func (p *TcxProgram) Common() *ProgramCommon { return &p.Spec.ProgramCommon }

// ProgramStatus returns the status.
func (p *TcxProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *TcxProgram) AttachPoint() AttachPoint {
	return AttachPoint{TCX: p.Spec.TCX.DeepCopy()}
}
