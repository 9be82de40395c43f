package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// XdpProgramSpec says what program to run where, and on which hook.
type XdpProgramSpec struct {
	ProgramCommon `json:",inline"`

	XDP XDPAttach `json:"xdp"`
}

// HookXDP is the hook XdpPrograms attach to, as NodeCapabilities names it.
const HookXDP = "XDP"

// XDPMode is how an XDP program attaches.
// +kubebuilder:validation:Enum=native;generic;auto
type XDPMode string

// XDP modes.
const (
	XDPNative  XDPMode = "native"
	XDPGeneric XDPMode = "generic"
	XDPAuto    XDPMode = "auto"
)

// XDPAttach attaches to the XDP hook of network interfaces.
type XDPAttach struct {
	Interfaces InterfaceSelector `json:"interfaces"`
	// NetworkNamespaces attaches to the interfaces inside the network
	// namespace of each selected pod (e.g. interfaces.names: [eth0])
	// instead of the node's.
	// +optional
	NetworkNamespaces *PodSelector `json:"networkNamespaces,omitempty"`
	// Mode: native (driver), generic (skb), or auto (native, else generic;
	// status says which).
	// +optional
	// +kubebuilder:default=auto
	Mode XDPMode `json:"mode,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=xdp,categories=bpfleet
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.xdp.mode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.pods.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// XdpProgram runs an eBPF program on the XDP hook of network interfaces on the selected nodes.
type XdpProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   XdpProgramSpec `json:"spec"`
	Status ProgramStatus  `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// XdpProgramList is a list of XdpPrograms.
type XdpProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []XdpProgram `json:"items"`
}

func init() { registerProgram[XdpProgram, XdpProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *XdpProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *XdpProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *XdpProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *XdpProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookXDP, p.Spec.XDP) }
