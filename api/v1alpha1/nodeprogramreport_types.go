package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=npr,categories=bpfleet
// +kubebuilder:printcolumn:name="Set Generation",type=integer,JSONPath=`.status.setGeneration`
// +kubebuilder:printcolumn:name="Kernel",type=string,JSONPath=`.status.capabilities.kernelRelease`
// +kubebuilder:printcolumn:name="Reported",type=date,JSONPath=`.status.lastSync`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// NodeProgramReport is what one node really runs: named after its node,
// owned by the node's NodeProgramSet, written by the node's agent only.
//
// It is an object of its own, not the set's status, because each write of
// an object costs the API server in proportion to the whole object: with
// the report in the set, every report rewrote the spec beside it and every
// spec change the report (docs/benchmarks.md, "Scale"). There is no status
// subresource: the whole object is status, and its one writer replaces it.
type NodeProgramReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status NodeProgramReportStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// NodeProgramReportList is a list of NodeProgramReports.
type NodeProgramReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeProgramReport `json:"items"`
}

func init() {
	SchemeBuilder.Register(&NodeProgramReport{}, &NodeProgramReportList{})
}

// NodeProgramReportStatus is what the node really runs, written by its
// agent, always whole (atomic: the API server tracks no field of it apart,
// which every write of the report would pay for).
// +structType=atomic
type NodeProgramReportStatus struct {
	// SetGeneration is the generation of the node's NodeProgramSet the
	// agent last applied. (Not observedGeneration: that would name the
	// report's own generation, which every write of it moves.)
	// +optional
	SetGeneration int64 `json:"setGeneration,omitempty"`

	// LastSync is when the agent last changed this report. That it is
	// alive, the agent says by renewing its Lease (AgentLeaseLabel).
	// +optional
	LastSync *metav1.Time `json:"lastSync,omitempty"`

	// Capabilities of the node's kernel.
	// +optional
	Capabilities *NodeCapabilities `json:"capabilities,omitempty"`

	// Programs reports every program the node was asked to run or still
	// runs. The agent writes the list whole (atomic, as the spec's).
	// +optional
	// +listType=atomic
	Programs NodeProgramStatusEntries `json:"programs,omitempty"`

	// MapPolicies reports each policy's entries on this node.
	// +optional
	// +listType=atomic
	MapPolicies []NodeMapPolicyStatus `json:"mapPolicies,omitempty"`

	// Conditions of the agent: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NodeCapabilities is what the agent found its kernel can do.
type NodeCapabilities struct {
	KernelRelease string `json:"kernelRelease,omitempty"`
	BTF           bool   `json:"btf"`
	// Hooks says, per hook (Tracepoint, XDP, TCX, Uprobe, Kprobe, Fentry,
	// Fexit), whether programs attach there on this node, and why not.
	// +optional
	// +listType=map
	// +listMapKey=name
	Hooks []HookSupport `json:"hooks,omitempty"`
}

// HookSupport is whether one hook works on a node.
type HookSupport struct {
	Name      string `json:"name"`
	Supported bool   `json:"supported"`
	// Reason says what is missing, e.g. "kernel lacks kprobes".
	// +optional
	Reason string `json:"reason,omitempty"`
}

// Unsupported returns why the node cannot run programs on hook, or "" if
// it can or did not say.
func (c *NodeCapabilities) Unsupported(hook string) string {
	if c == nil {
		return ""
	}
	for _, h := range c.Hooks {
		if h.Name == hook && !h.Supported {
			return h.Reason
		}
	}
	return ""
}

// ProgramState is the state of one program on one node.
// +kubebuilder:validation:Enum=Pending;Ready;Failed;Unsupported;Unloading
type ProgramState string

// Program states on a node.
const (
	StatePending     ProgramState = "Pending"
	StateReady       ProgramState = "Ready"
	StateFailed      ProgramState = "Failed"
	StateUnsupported ProgramState = "Unsupported"
	StateUnloading   ProgramState = "Unloading"
)

// NodeProgramStatus is one program on one node.
//
// An entry says only what the node's set does not: the program's name,
// kind and image digest are in its set's entry of the same UID (uid →
// name is one lookup away in the set). Each entry is one JSON string
// holding its fields as a JSON object (NodeProgramStatusEntries):
// the API server decodes and checks every value of an object on each
// write of it (BenchmarkSetWrite), and a string is one value. The API
// server does not check the fields inside; the operator decodes them
// leniently (an entry that does not decode reads as Failed,
// ReasonInvalidReport), so that one agent's bad report cannot blind the
// informer that reads every report.
type NodeProgramStatus struct {
	UID types.UID `json:"uid"`
	// Generation of the program resource the node applied.
	Generation int64        `json:"generation"`
	State      ProgramState `json:"state"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Terminal is true when retrying cannot help without a change of spec.
	// +optional
	Terminal bool `json:"terminal,omitempty"`
	// +optional
	VerifierLog string `json:"verifierLog,omitempty"`
	// ProgramID is the program's kernel ID (bpftool prog show id N).
	// +optional
	ProgramID uint32 `json:"programID,omitempty"`
	// PinPath is the directory of the running revision's pins, under the
	// agent's pin root and the program's UID.
	// +optional
	PinPath string `json:"pinPath,omitempty"`
	// Objects are the program's links (one per attach target, e.g. per
	// interface) and maps, with their kernel IDs, e.g.
	// "link main 1002 syscalls/sys_enter_openat; map counts 1001".
	// +optional
	Objects KernelObjects `json:"objects,omitzero"`
	// Programs are, for an application, each of its programs on the node:
	// whether it runs (an optional program whose hook the node lacks does
	// not), its kernel ID and its links. ProgramID and Objects' links are
	// then empty; Objects' maps are the application's, which all its
	// programs share.
	// +optional
	Programs []ProgramAttachmentStatus `json:"programs,omitempty"`
	// Mounts are the pods on the node that mount maps of the program
	// (CSI driver csi.bpfleet.io), at most MaxMountsReported of them;
	// MountCount counts them all.
	// +optional
	Mounts []MapMount `json:"mounts,omitempty"`
	// MountCount counts the pods' volumes of the program's maps.
	// +optional
	MountCount int32 `json:"mountCount,omitempty"`
	// Pods counts, for a program with pod targets (network namespaces,
	// containers, cgroups of pods), the node's pods its selectors match
	// and where it attached; each link names its pod.
	// +optional
	Pods *PodTargetsStatus `json:"pods,omitempty"`
	// RunStats are the program's run statistics, for a program whose
	// resource asks for them (runStats); an application's are per program.
	// +optional
	RunStats *RunStats `json:"runStats,omitempty"`
}

// RunStats are the kernel's run statistics of one program on one node, as
// the agent last read them: at most once a minute (the agent's resync),
// so that they move the node's report no more often. The same counters
// are the agent's metrics bpfleet_agent_program_run_count_total and
// bpfleet_agent_program_run_time_seconds_total, read at each scrape.
type RunStats struct {
	// RunCount is how often the program ran and RunTimeNs how long it ran
	// in all, in nanoseconds (the kernel's run_cnt and run_time_ns): the
	// kernel counts while some program on the node asks for statistics.
	RunCount  uint64 `json:"runCount"`
	RunTimeNs uint64 `json:"runTimeNs"`
	// ReadAt is when the agent read them.
	ReadAt metav1.Time `json:"readAt"`
}

// MaxMountsReported bounds the mounts one report entry lists.
const MaxMountsReported = 16

// MapMount is a pod that mounts maps of a program.
type MapMount struct {
	// Pod is namespace/name.
	Pod string `json:"pod"`
	// Maps the volume holds.
	Maps []MapName `json:"maps"`
	// Access the pod has: Read or ReadWrite.
	Access MapAccessMode `json:"access"`
	// Stale says which maps the pod's mount holds that the program no
	// longer uses (a map made anew by an update, or the program gone
	// from the node); a read-only mount is never made writable to
	// change them: the pod sees the program's maps again once it restarts.
	// +optional
	Stale string `json:"stale,omitempty"`
}

// ProgramAttachmentStatus is one program of an application on one node.
type ProgramAttachmentStatus struct {
	Name string `json:"name"`
	// State is Ready, Unsupported for an optional program whose hook
	// the node lacks, or Pending for one whose hook's probe was
	// inconclusive (retried each pass).
	State ProgramState `json:"state"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	ProgramID uint32 `json:"programID,omitempty"`
	// Links of the program, one per attach target.
	// +optional
	Links []LinkStatus `json:"links,omitempty"`
	// RunStats as in NodeProgramStatus, for this program.
	// +optional
	RunStats *RunStats `json:"runStats,omitempty"`
}

// NodeMapPolicyStatus is one MapPolicy on one node.
type NodeMapPolicyStatus struct {
	UID        types.UID    `json:"uid"`
	Name       string       `json:"name"`
	Generation int64        `json:"generation"`
	State      ProgramState `json:"state"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Terminal is true when only a change of the policy can fix it.
	// +optional
	Terminal bool `json:"terminal,omitempty"`
	// Entries in the map after the write, and its capacity.
	// +optional
	Entries int32 `json:"entries,omitempty"`
	// +optional
	MaxEntries int32 `json:"maxEntries,omitempty"`
}

// LinkStatus is one attachment of a program.
type LinkStatus struct {
	// Target is what it is attached to on the node, e.g. an interface;
	// in a pod, the pod and what in it: "team-a/web-1:eth0",
	// "team-a/web-1:app:42" (container app, process 42),
	// "team-a/web-1:cgroup".
	Target string `json:"target"`
	LinkID uint32 `json:"linkID"`
	// Detail such as the XDP mode or the position on a TCX hook.
	// +optional
	Detail string `json:"detail,omitempty"`
}
