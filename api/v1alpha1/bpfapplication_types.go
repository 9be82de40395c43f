package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BpfApplicationSpec says which programs of one object run in which pods
// of the application's own namespace. Every target is a pod's (its
// network namespace, containers or cgroup), and only pods of the
// application's namespace match, whatever the selectors say: the kind has
// no namespace selector. The image must be one the cluster's
// BpfApplicationPolicy allows, checked at admission and by the operator.
// +kubebuilder:validation:XValidation:rule="has(self.byteCode.image)",message="a BpfApplication loads an image (byteCode.image), never a file of the node (byteCode.path)"
type BpfApplicationSpec struct {
	ProgramSource `json:",inline"`

	// Programs are the object's programs to run, each on one hook in the
	// selected pods. Adding, removing or changing one is a new revision of
	// the application, which nodes apply without a gap.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Programs []BpfApplicationProgram `json:"programs"`
}

// BpfApplicationProgram is one program of a BpfApplication and the pods
// it attaches in: exactly one of xdp, tcx, uprobe or cgroup.
// +kubebuilder:validation:XValidation:rule="[has(self.xdp), has(self.tcx), has(self.uprobe), has(self.cgroup)].exists_one(x, x)",message="set exactly one hook per program: xdp, tcx, uprobe or cgroup"
type BpfApplicationProgram struct {
	// Name is the program's name (its C function) in the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`

	// Optional lets a node whose kernel lacks this program's hook run the
	// application's other programs.
	// +optional
	Optional bool `json:"optional,omitempty"`

	// +optional
	XDP *PodXDPAttach `json:"xdp,omitempty"`
	// +optional
	TCX *PodTCXAttach `json:"tcx,omitempty"`
	// +optional
	Uprobe *PodUprobeAttach `json:"uprobe,omitempty"`
	// +optional
	Cgroup *PodCgroupAttach `json:"cgroup,omitempty"`
}

// LocalPodSelector picks pods of the application's own namespace by their
// labels; {} selects every pod of it.
type LocalPodSelector struct {
	Pods LabelSelector `json:"pods"`
}

// LocalContainerSelector picks containers of pods of the application's
// own namespace: those named in containerNames, or every container.
type LocalContainerSelector struct {
	LocalPodSelector `json:",inline"`
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	ContainerNames []ContainerName `json:"containerNames,omitempty"`
}

// PodXDPAttach attaches to the XDP hook of interfaces inside the selected
// pods' network namespaces.
type PodXDPAttach struct {
	Interfaces InterfaceSelector `json:"interfaces"`
	// Mode: native, generic, or auto.
	// +optional
	// +kubebuilder:default=auto
	Mode              XDPMode          `json:"mode,omitempty"`
	NetworkNamespaces LocalPodSelector `json:"networkNamespaces"`
}

// PodTCXAttach attaches to the TCX hook of interfaces inside the selected
// pods' network namespaces, last on the hook.
type PodTCXAttach struct {
	Interfaces        InterfaceSelector `json:"interfaces"`
	Direction         TCXDirection      `json:"direction"`
	NetworkNamespaces LocalPodSelector  `json:"networkNamespaces"`
}

// PodUprobeAttach probes a function of a binary or library inside the
// selected containers, for their processes only.
// +kubebuilder:validation:XValidation:rule="has(self.function) || has(self.offset)",message="set uprobe.function, uprobe.offset, or both"
type PodUprobeAttach struct {
	UprobeFunction `json:",inline"`
	Containers     LocalContainerSelector `json:"containers"`
}

// PodCgroupAttach attaches to a hook of the selected pods' cgroups, last
// on the hook.
type PodCgroupAttach struct {
	// Type is the hook in the cgroup (see CgroupAttach).
	Type    CgroupAttachType `json:"type"`
	Cgroups LocalPodSelector `json:"cgroups"`
}

// AttachPoint is where the program attaches (the one hook set), with
// the cluster kinds' settings, which the node's agent reads; the node
// keeps to the application's namespace (NodeProgram.Namespace).
func (p *BpfApplicationProgram) AttachPoint() AttachPoint {
	switch {
	case p.XDP != nil:
		return NewAttachPoint(HookXDP, XDPAttach{Interfaces: p.XDP.Interfaces, Mode: p.XDP.Mode,
			NetworkNamespaces: p.XDP.NetworkNamespaces.selector()})
	case p.TCX != nil:
		return NewAttachPoint(HookTCX, TCXAttach{Interfaces: p.TCX.Interfaces, Direction: p.TCX.Direction,
			NetworkNamespaces: p.TCX.NetworkNamespaces.selector()})
	case p.Uprobe != nil:
		c := p.Uprobe.Containers
		return NewAttachPoint(HookUprobe, UprobeAttach{UprobeFunction: p.Uprobe.UprobeFunction,
			Containers: &ContainerSelector{PodSelector: *c.selector(), ContainerNames: c.ContainerNames}})
	case p.Cgroup != nil:
		return NewAttachPoint(HookCgroup, CgroupAttach{Type: p.Cgroup.Type, Cgroups: p.Cgroup.Cgroups.selector()})
	}
	return AttachPoint{} // refused at admission
}

func (s LocalPodSelector) selector() *PodSelector { return &PodSelector{Pods: s.Pods} }

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=bpfapp,categories=bpfleet
// +kubebuilder:printcolumn:name="Programs",type=string,JSONPath=`.status.programsSummary`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.pods.summary`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// BpfApplication runs several programs of one eBPF object in the pods of
// its own namespace: a team's own eBPF, for its own workloads.
type BpfApplication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BpfApplicationSpec          `json:"spec"`
	Status ClusterBpfApplicationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BpfApplicationList is a list of BpfApplications.
type BpfApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BpfApplication `json:"items"`
}

func init() { registerProgram[BpfApplication, BpfApplicationList]() }

// Namespaced says that BpfApplications live in a namespace.
func (*BpfApplication) Namespaced() bool { return true }

// Source returns where the object comes from and where it runs.
func (a *BpfApplication) Source() *ProgramSource { return &a.Spec.ProgramSource }

// ProgramStatus returns the status every kind shares.
func (a *BpfApplication) ProgramStatus() *ProgramStatus { return &a.Status.ProgramStatus }

// SetProgramsStatus records where each program of the application runs.
func (a *BpfApplication) SetProgramsStatus(programs []ApplicationProgramStatus) {
	a.Status.setPrograms(programs)
}

// Attachments returns the application's programs, each with its hook.
func (a *BpfApplication) Attachments() []ProgramAttachment {
	return attachmentsOf(a.Spec.Programs)
}

// attachment is the program's name, attach point and optionality.
func (p *BpfApplicationProgram) attachment() ProgramAttachment {
	return ProgramAttachment{Name: p.Name, Attach: p.AttachPoint(), Optional: p.Optional}
}

// setPrograms records where each program of an application runs.
func (s *ClusterBpfApplicationStatus) setPrograms(programs []ApplicationProgramStatus) {
	running := 0
	for _, p := range programs {
		if p.Ready > 0 {
			running++
		}
	}
	s.Programs = programs
	s.ProgramsSummary = fmt.Sprintf("%d/%d", running, len(programs))
}
