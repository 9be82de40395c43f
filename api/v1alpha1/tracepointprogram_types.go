package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TracepointProgramSpec runs a program on a kernel tracepoint.
type TracepointProgramSpec struct {
	ProgramCommon `json:",inline"`

	// Tracepoint is the hook to attach to.
	Tracepoint TracepointAttach `json:"tracepoint"`
}

// HookTracepoint is the hook TracepointPrograms attach to, as NodeCapabilities names it.
const HookTracepoint = "Tracepoint"

// TracepointAttach names a tracepoint as "group/event".
type TracepointAttach struct {
	// Name is "group/event" as under /sys/kernel/tracing/events,
	// e.g. "syscalls/sys_enter_openat".
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_]+/[A-Za-z0-9_.-]+$')",message="tracepoint.name must be \"group/event\", e.g. \"syscalls/sys_enter_openat\""
	Name string `json:"name"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tpp,categories=bpfleet
// +kubebuilder:printcolumn:name="Tracepoint",type=string,JSONPath=`.spec.tracepoint.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// TracepointProgram runs an eBPF program on a kernel tracepoint on the
// selected nodes.
type TracepointProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TracepointProgramSpec `json:"spec"`
	Status ProgramStatus         `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// TracepointProgramList is a list of TracepointPrograms.
type TracepointProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TracepointProgram `json:"items"`
}

func init() { registerProgram[TracepointProgram, TracepointProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *TracepointProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *TracepointProgram) Attachments() []ProgramAttachment {
	return p.Spec.attachment(p.AttachPoint())
}

// ProgramStatus returns the status.
func (p *TracepointProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *TracepointProgram) AttachPoint() AttachPoint {
	return NewAttachPoint(HookTracepoint, p.Spec.Tracepoint)
}
