package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterBpfApplicationSpec says which programs of one object run where.
// The programs share the object's maps and globals: a node loads the
// object once for all of them. An order's before and after name a
// TcxProgram or CgroupProgram, never a program of an application.
// +kubebuilder:validation:XValidation:rule="self.programs.all(p, !has(p.tcx) || !has(p.tcx.order) || !self.programs.exists(q, (has(p.tcx.order.before) && q.name == p.tcx.order.before) || (has(p.tcx.order.after) && q.name == p.tcx.order.after)))",message="tcx.order.before or tcx.order.after names one of this application's own programs, which cannot be ordered relative to one another (order.first and order.last place one among the others); an order names a TcxProgram, and a TcxProgram ordered against must not share its name with a program of this application",fieldPath=".programs"
// +kubebuilder:validation:XValidation:rule="self.programs.all(p, !has(p.cgroup) || !has(p.cgroup.order) || !self.programs.exists(q, (has(p.cgroup.order.before) && q.name == p.cgroup.order.before) || (has(p.cgroup.order.after) && q.name == p.cgroup.order.after)))",message="cgroup.order.before or cgroup.order.after names one of this application's own programs, which cannot be ordered relative to one another (order.first and order.last place one among the others); an order names a CgroupProgram, and a CgroupProgram ordered against must not share its name with a program of this application",fieldPath=".programs"
type ClusterBpfApplicationSpec struct {
	ProgramSource `json:",inline"`

	// Programs are the object's programs to run, each on one hook. Adding,
	// removing or changing one is a new revision of the application, which
	// nodes apply without a gap (its maps keep their contents).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Programs []ApplicationProgram `json:"programs"`
}

// ApplicationProgram is one program of an application and the hook it
// attaches to: exactly one of tracepoint, xdp, tcx, uprobe, kprobe,
// fentry, fexit, cgroup or lsm, with the settings of the program kind of
// that hook.
// +kubebuilder:validation:XValidation:rule="[has(self.tracepoint), has(self.xdp), has(self.tcx), has(self.uprobe), has(self.kprobe), has(self.fentry), has(self.fexit), has(self.cgroup), has(self.lsm)].exists_one(x, x)",message="set exactly one hook per program: tracepoint, xdp, tcx, uprobe, kprobe, fentry, fexit, cgroup or lsm"
type ApplicationProgram struct {
	// Name is the program's name (its C function) in the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`

	// Optional lets a node whose kernel lacks this program's hook run the
	// application's other programs; status says where it runs. Without
	// it, such a node is Unsupported for the whole application.
	// +optional
	Optional bool `json:"optional,omitempty"`

	// +optional
	Tracepoint *TracepointAttach `json:"tracepoint,omitempty"`
	// +optional
	XDP *XDPAttach `json:"xdp,omitempty"`
	// +optional
	TCX *TCXAttach `json:"tcx,omitempty"`
	// +optional
	Uprobe *UprobeAttach `json:"uprobe,omitempty"`
	// +optional
	Kprobe *KprobeAttach `json:"kprobe,omitempty"`
	// +optional
	Fentry *FentryAttach `json:"fentry,omitempty"`
	// +optional
	Fexit *FentryAttach `json:"fexit,omitempty"`
	// +optional
	Cgroup *CgroupAttach `json:"cgroup,omitempty"`
	// +optional
	LSM *LsmAttach `json:"lsm,omitempty"`
}

// AttachPoint is where the program attaches (the one hook set).
func (p *ApplicationProgram) AttachPoint() AttachPoint {
	for _, h := range []struct {
		hook     string
		settings any
		set      bool
	}{
		{HookTracepoint, p.Tracepoint, p.Tracepoint != nil},
		{HookXDP, p.XDP, p.XDP != nil},
		{HookTCX, p.TCX, p.TCX != nil},
		{HookUprobe, p.Uprobe, p.Uprobe != nil},
		{HookKprobe, p.Kprobe, p.Kprobe != nil},
		{HookFentry, p.Fentry, p.Fentry != nil},
		{HookFexit, p.Fexit, p.Fexit != nil},
		{HookCgroup, p.Cgroup, p.Cgroup != nil},
		{HookLSM, p.LSM, p.LSM != nil},
	} {
		if h.set {
			return NewAttachPoint(h.hook, h.settings)
		}
	}
	return AttachPoint{} // refused at admission
}

// ClusterBpfApplicationStatus is a program kind's status, and where each
// of the application's programs runs.
type ClusterBpfApplicationStatus struct {
	ProgramStatus `json:",inline"`

	// Programs counts, per program of the application, the selected
	// nodes where it runs and those where it cannot (an optional
	// program's hook missing).
	// +optional
	// +listType=map
	// +listMapKey=name
	Programs []ApplicationProgramStatus `json:"programs,omitempty"`
	// ProgramsSummary is "running/programs": how many of its programs run
	// on some node, for kubectl get.
	// +optional
	ProgramsSummary string `json:"programsSummary,omitempty"`
}

// ApplicationProgramStatus is where one program of an application runs.
type ApplicationProgramStatus struct {
	Name string `json:"name"`
	// Ready nodes run it.
	Ready int32 `json:"ready"`
	// Unsupported nodes lack its hook (an optional program).
	// +optional
	Unsupported int32 `json:"unsupported,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cba,categories=bpfleet
// +kubebuilder:printcolumn:name="Programs",type=string,JSONPath=`.status.programsSummary`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.pods.summary`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterBpfApplication runs several programs of one eBPF object on the
// selected nodes, sharing its maps and globals: one load per node.
type ClusterBpfApplication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterBpfApplicationSpec   `json:"spec"`
	Status ClusterBpfApplicationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterBpfApplicationList is a list of ClusterBpfApplications.
type ClusterBpfApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterBpfApplication `json:"items"`
}

func init() { registerProgram[ClusterBpfApplication, ClusterBpfApplicationList]() }

// Source returns where the object comes from and where it runs.
func (a *ClusterBpfApplication) Source() *ProgramSource { return &a.Spec.ProgramSource }

// ProgramStatus returns the status every kind shares.
func (a *ClusterBpfApplication) ProgramStatus() *ProgramStatus { return &a.Status.ProgramStatus }

// SetProgramsStatus records where each program of the application runs.
func (a *ClusterBpfApplication) SetProgramsStatus(programs []ApplicationProgramStatus) {
	a.Status.setPrograms(programs)
}

// Attachments returns the application's programs, each with its hook.
func (a *ClusterBpfApplication) Attachments() []ProgramAttachment {
	return attachmentsOf(a.Spec.Programs)
}

// attachment is the program's name, attach point and optionality.
func (p *ApplicationProgram) attachment() ProgramAttachment {
	return ProgramAttachment{Name: p.Name, Attach: p.AttachPoint(), Optional: p.Optional}
}

// attachmentsOf lists the attachments of an application's programs, of
// either application kind.
func attachmentsOf[P any, PP interface {
	*P
	attachment() ProgramAttachment
}](programs []P) []ProgramAttachment {
	out := make([]ProgramAttachment, len(programs))
	for i := range programs {
		out[i] = PP(&programs[i]).attachment()
	}
	return out
}
