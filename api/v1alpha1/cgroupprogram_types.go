package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CgroupProgramSpec runs a program on a cgroup v2 hook.
type CgroupProgramSpec struct {
	ProgramCommon `json:",inline"`

	// Cgroup is the hook to attach to.
	Cgroup CgroupAttach `json:"cgroup"`
}

// HookCgroup is the hook CgroupPrograms attach to, as NodeCapabilities names it.
const HookCgroup = "Cgroup"

// CgroupAttachType is where in a cgroup a program runs: cgroup_skb
// (ingress, egress), cgroup_sock (sock_create, sock_release, post_bind4/6),
// sock_ops, cgroup_sock_addr (bind4/6, connect4/6, sendmsg4/6, recvmsg4/6,
// getpeername4/6, getsockname4/6), sysctl or device.
// +kubebuilder:validation:Enum=ingress;egress;sock_create;sock_release;post_bind4;post_bind6;sock_ops;bind4;bind6;connect4;connect6;sendmsg4;sendmsg6;recvmsg4;recvmsg6;getpeername4;getpeername6;getsockname4;getsockname6;sysctl;device
type CgroupAttachType string

// CgroupAttach attaches to a hook of one cgroup (v2), and so to every
// process in it and in the cgroups below it. Programs on the same hook
// run one after another, each with its own link. Exactly one of path or
// cgroups says which cgroup.
// +kubebuilder:validation:XValidation:rule="has(self.path) != has(self.cgroups)",message="set exactly one of cgroup.path (a cgroup of the node) or cgroup.cgroups (the cgroups of selected pods)"
type CgroupAttach struct {
	// Path of the cgroup, from the root of the node's cgroup v2 hierarchy,
	// e.g. "/" (every process) or "/kubepods.slice".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="cgroup.path must start with '/'"
	// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(p, p == '..' || p == '.')",message="cgroup.path must not contain '.' or '..' elements"
	// +kubebuilder:validation:XValidation:rule="self == '/' || (!self.endsWith('/') && !self.contains('//'))",message="cgroup.path must be clean: no '//' and no trailing '/'"
	Path string `json:"path,omitempty"`
	// Cgroups attaches to the cgroup of each selected pod, and so to
	// every container of it.
	// +optional
	Cgroups *PodSelector `json:"cgroups,omitempty"`
	// Type is the hook in the cgroup; the program's type must match it
	// (e.g. cgroup_skb for ingress and egress, cgroup_sock_addr for
	// connect4).
	Type CgroupAttachType `json:"type"`
	// Order among the programs on the same hook of the same cgroup; default
	// last. A kernel that cannot order cgroup programs (before Linux's
	// cgroup mprog support) reports an order other than last Unsupported.
	// +optional
	Order *CgroupOrder `json:"order,omitempty"`
}

// CgroupOrder places a program on its hook: exactly one of first, last,
// before or after another CgroupProgram (by name) on the same hook.
// +kubebuilder:validation:XValidation:rule="[has(self.first) && self.first, has(self.last) && self.last, has(self.before), has(self.after)].exists_one(x, x)",message="set exactly one of order.first, order.last, order.before or order.after"
type CgroupOrder struct {
	// +optional
	First bool `json:"first,omitempty"`
	// +optional
	Last bool `json:"last,omitempty"`
	// Before names a CgroupProgram this one runs before (a program of an
	// application cannot be named).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Before string `json:"before,omitempty"`
	// After names a CgroupProgram this one runs after (a program of an
	// application cannot be named).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	After string `json:"after,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cgp,categories=bpfleet
// +kubebuilder:printcolumn:name="Cgroup",type=string,JSONPath=`.spec.cgroup.path`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.cgroup.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.pods.summary`
// +kubebuilder:printcolumn:name="Unsupported",type=integer,JSONPath=`.status.nodes.unsupported`,priority=1
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.image.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.cgroup.order) || [self.spec.cgroup.order.?before.orValue(''), self.spec.cgroup.order.?after.orValue('')].all(n, n != self.metadata.name)",message="cgroup.order must name another CgroupProgram, not this one: a program cannot run before or after itself",fieldPath=".spec.cgroup.order"

// CgroupProgram runs an eBPF program on a cgroup hook on the selected
// nodes.
type CgroupProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CgroupProgramSpec `json:"spec"`
	Status ProgramStatus     `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CgroupProgramList is a list of CgroupPrograms.
type CgroupProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CgroupProgram `json:"items"`
}

func init() { registerProgram[CgroupProgram, CgroupProgramList]() }

// Source returns where the program comes from and where it runs.
func (p *CgroupProgram) Source() *ProgramSource { return &p.Spec.ProgramSource }

// Attachments returns the program and where it attaches.
func (p *CgroupProgram) Attachments() []ProgramAttachment { return p.Spec.attachment(p.AttachPoint()) }

// ProgramStatus returns the status.
func (p *CgroupProgram) ProgramStatus() *ProgramStatus { return &p.Status }

// AttachPoint returns where the program attaches.
func (p *CgroupProgram) AttachPoint() AttachPoint { return NewAttachPoint(HookCgroup, p.Spec.Cgroup) }
