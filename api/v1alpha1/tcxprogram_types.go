package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TcxProgramSpec says what program to run where, and on which hook.
type TcxProgramSpec struct {
	ProgramCommon `json:",inline"`

	TCX TCXAttach `json:"tcx"`
}

// HookTCX is the hook TcxPrograms attach to, as NodeCapabilities names it.
const HookTCX = "TCX"

// TCXDirection is the traffic direction of a TCX hook.
// +kubebuilder:validation:Enum=ingress;egress
type TCXDirection string

// TCX directions.
const (
	TCXIngress TCXDirection = "ingress"
	TCXEgress  TCXDirection = "egress"
)

// TCXAttach attaches to the TCX hook of network interfaces.
type TCXAttach struct {
	Interfaces InterfaceSelector `json:"interfaces"`
	// NetworkNamespaces attaches to the interfaces inside the network
	// namespace of each selected pod (e.g. interfaces.names: [eth0])
	// instead of the node's.
	// +optional
	NetworkNamespaces *PodSelector `json:"networkNamespaces,omitempty"`
	Direction         TCXDirection `json:"direction"`
	// Order among the programs on the same hook; default last.
	// +optional
	Order *TCXOrder `json:"order,omitempty"`
}

// TCXOrder places a program on its hook: exactly one of first, last,
// before or after another TcxProgram (by name) on the same hook.
// +kubebuilder:validation:XValidation:rule="[has(self.first) && self.first, has(self.last) && self.last, has(self.before), has(self.after)].exists_one(x, x)",message="set exactly one of order.first, order.last, order.before or order.after"
type TCXOrder struct {
	// +optional
	First bool `json:"first,omitempty"`
	// +optional
	Last bool `json:"last,omitempty"`
	// Before names a TcxProgram this one runs before (a program of an
	// application cannot be named).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Before string `json:"before,omitempty"`
	// After names a TcxProgram this one runs after (a program of an
	// application cannot be named).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	After string `json:"after,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tcx,categories=bpfleet
// +kubebuilder:printcolumn:name="Direction",type=string,JSONPath=`.spec.tcx.direction`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.pods.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.tcx.order) || [self.spec.tcx.order.?before.orValue(''), self.spec.tcx.order.?after.orValue('')].all(n, n != self.metadata.name)",message="tcx.order must name another TcxProgram, not this one: a program cannot run before or after itself",fieldPath=".spec.tcx.order"

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

func init() { registerProgram[TcxProgram, TcxProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *TcxProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *TcxProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *TcxProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *TcxProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookTCX, p.Spec.TCX) }
