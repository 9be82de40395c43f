package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FentryProgramSpec says what program to run where, and on which hook.
type FentryProgramSpec struct {
	ProgramCommon `json:",inline"`

	Fentry FentryAttach `json:"fentry"`
}

// HookFentry is the hook FentryPrograms attach to, as NodeCapabilities names it.
const HookFentry = "Fentry"

// FentryAttach attaches to the entry or exit of a kernel function via BTF.
type FentryAttach struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Function string `json:"function"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=fep,categories=bpfleet
// +kubebuilder:printcolumn:name="Function",type=string,JSONPath=`.spec.fentry.function`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// FentryProgram runs an eBPF program at the entry of a kernel function (BTF) on the selected nodes.
type FentryProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FentryProgramSpec `json:"spec"`
	Status ProgramStatus     `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// FentryProgramList is a list of FentryPrograms.
type FentryProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FentryProgram `json:"items"`
}

func init() { registerProgram[FentryProgram, FentryProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *FentryProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *FentryProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *FentryProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *FentryProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookFentry, p.Spec.Fentry) }
