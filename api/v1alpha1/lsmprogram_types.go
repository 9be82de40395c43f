package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LsmProgramSpec says what program to run where, and on which hook.
type LsmProgramSpec struct {
	ProgramCommon `json:",inline"`

	LSM LsmAttach `json:"lsm"`
}

// HookLSM is the hook LsmPrograms attach to, as NodeCapabilities names it.
const HookLSM = "LSM"

// LsmAttach attaches to a Linux Security Module hook through BPF LSM: the
// program's return value is the hook's verdict (0 allows; a negative
// errno, such as -EPERM, denies). The node's kernel needs CONFIG_BPF_LSM
// and "bpf" among its active LSMs (the lsm= boot parameter).
type LsmAttach struct {
	// Hook is the LSM hook, as the kernel names it without its bpf_lsm_
	// prefix: file_open, bprm_check_security, socket_connect...
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	Hook string `json:"hook"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=lsmp,categories=bpfleet
// +kubebuilder:printcolumn:name="Hook",type=string,JSONPath=`.spec.lsm.hook`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// LsmProgram runs an eBPF program on a Linux Security Module hook (BPF LSM) on the selected nodes: it may deny what the hook guards.
type LsmProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LsmProgramSpec `json:"spec"`
	Status ProgramStatus  `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// LsmProgramList is a list of LsmPrograms.
type LsmProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LsmProgram `json:"items"`
}

func init() { registerProgram[LsmProgram, LsmProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *LsmProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *LsmProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *LsmProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *LsmProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookLSM, p.Spec.LSM) }
