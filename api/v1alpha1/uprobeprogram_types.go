package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UprobeProgramSpec says what program to run where, and on which hook.
type UprobeProgramSpec struct {
	ProgramCommon `json:",inline"`

	Uprobe UprobeAttach `json:"uprobe"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=upp,categories=bpfleet
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.uprobe.target`
// +kubebuilder:printcolumn:name="Function",type=string,JSONPath=`.spec.uprobe.function`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// UprobeProgram runs an eBPF program on a function of a user-space binary or library on the selected nodes.
type UprobeProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   UprobeProgramSpec `json:"spec"`
	Status ProgramStatus     `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// UprobeProgramList is a list of UprobePrograms.
type UprobeProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UprobeProgram `json:"items"`
}

func init() {
	SchemeBuilder.Register(&UprobeProgram{}, &UprobeProgramList{})
}

// Common returns the spec every kind shares.
func (p *UprobeProgram) Common() *ProgramCommon { return &p.Spec.ProgramCommon }

// ProgramStatus returns the status.
func (p *UprobeProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *UprobeProgram) AttachPoint() AttachPoint {
	return AttachPoint{Uprobe: p.Spec.Uprobe.DeepCopy()}
}
