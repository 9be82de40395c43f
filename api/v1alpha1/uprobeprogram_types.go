package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UprobeProgramSpec says what program to run where, and on which hook.
type UprobeProgramSpec struct {
	ProgramCommon `json:",inline"`

	Uprobe UprobeAttach `json:"uprobe"`
}

// HookUprobe is the hook UprobePrograms attach to, as NodeCapabilities names it.
const HookUprobe = "Uprobe"

// UprobeAttach attaches to a function of a user-space binary or library.
// +kubebuilder:validation:XValidation:rule="has(self.function) || has(self.offset)",message="set uprobe.function, uprobe.offset, or both"
// +kubebuilder:validation:XValidation:rule="!has(self.pid) || !has(self.containers)",message="set uprobe.pid or uprobe.containers, not both: containers picks the processes"
type UprobeAttach struct {
	UprobeFunction `json:",inline"`
	// PID limits the probe to one process; a target path is then resolved
	// inside that process's root (/proc/<pid>/root), for containers.
	// +optional
	// +kubebuilder:validation:Minimum=1
	PID int32 `json:"pid,omitempty"`
	// Containers probes the target inside each selected container of the
	// selected pods: the path (or library) is resolved in the
	// container's root filesystem, and the probe fires for the
	// container's processes only, not for the same file run elsewhere.
	// +optional
	Containers *ContainerSelector `json:"containers,omitempty"`
}

// UprobeFunction is the function a uprobe probes: a binary or library,
// the symbol, an offset, entry or return.
type UprobeFunction struct {
	// Target is an absolute path of a binary or library, or a library
	// name such as "libc" or "libssl.so.3" (no '/'), which the node finds
	// in /etc/ld.so.cache or the usual library folders. A relative path
	// is refused: the node has no directory to resolve it from.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="uprobe.target must not contain '..'"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/') || (size(self) <= 255 && self.matches('^[A-Za-z0-9_+-][A-Za-z0-9_+.-]*$'))",message="uprobe.target must be an absolute path (/usr/bin/bash) or a library name without '/' (libc, libssl.so.3); a relative path such as ./app or bin/app cannot be resolved on the node"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') || self == '/' || (!self.endsWith('/') && !self.contains('//') && !self.split('/').exists(p, p == '.'))",message="uprobe.target must be a clean path: no '//', no '.' elements, no trailing '/'"
	Target string `json:"target"`
	// Function is the symbol to probe.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_.$@][A-Za-z0-9_.$@]*$`
	Function string `json:"function,omitempty"`
	// Offset from the function (or from the file start without one).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Offset int64 `json:"offset,omitempty"`
	// Retprobe probes the function's return.
	// +optional
	Retprobe bool `json:"retprobe,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=upp,categories=bpfleet
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.uprobe.target`
// +kubebuilder:printcolumn:name="Function",type=string,JSONPath=`.spec.uprobe.function`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.pods.summary`
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

func init() { registerProgram[UprobeProgram, UprobeProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *UprobeProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *UprobeProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *UprobeProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *UprobeProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookUprobe, p.Spec.Uprobe) }
