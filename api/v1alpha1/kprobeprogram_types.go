package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KprobeProgramSpec says what program to run where, and on which hook.
type KprobeProgramSpec struct {
	ProgramCommon `json:",inline"`

	Kprobe KprobeAttach `json:"kprobe"`
}

// HookKprobe is the hook KprobePrograms attach to, as NodeCapabilities names it.
const HookKprobe = "Kprobe"

// KprobeAttach attaches to a kernel function.
type KprobeAttach struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_.]*$`
	Function string `json:"function"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Offset int64 `json:"offset,omitempty"`
	// +optional
	Retprobe bool `json:"retprobe,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=kpp,categories=bpfleet
// +kubebuilder:printcolumn:name="Function",type=string,JSONPath=`.spec.kprobe.function`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// KprobeProgram runs an eBPF program on a kernel function through a kprobe on the selected nodes.
type KprobeProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KprobeProgramSpec `json:"spec"`
	Status ProgramStatus     `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// KprobeProgramList is a list of KprobePrograms.
type KprobeProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KprobeProgram `json:"items"`
}

func init() { registerProgram[KprobeProgram, KprobeProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *KprobeProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *KprobeProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *KprobeProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *KprobeProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookKprobe, p.Spec.Kprobe) }
