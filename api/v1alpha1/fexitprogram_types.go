package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FexitProgramSpec says what program to run where, and on which hook.
type FexitProgramSpec struct {
	ProgramCommon `json:",inline"`

	Fexit FentryAttach `json:"fexit"`
}

// HookFexit is the hook FexitPrograms attach to, as NodeCapabilities names it.
const HookFexit = "Fexit"

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=fxp,categories=bpfleet
// +kubebuilder:printcolumn:name="Function",type=string,JSONPath=`.spec.fexit.function`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// FexitProgram runs an eBPF program at the exit of a kernel function (BTF) on the selected nodes.
type FexitProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FexitProgramSpec `json:"spec"`
	Status ProgramStatus    `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// FexitProgramList is a list of FexitPrograms.
type FexitProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FexitProgram `json:"items"`
}

func init() { registerProgram[FexitProgram, FexitProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *FexitProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *FexitProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *FexitProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *FexitProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookFexit, p.Spec.Fexit) }
