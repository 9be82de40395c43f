package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeProgramSetSpec is what one node must run. The operator writes it; the
// node's agent reads it.
type NodeProgramSetSpec struct {
	// Programs to run on this node. The operator writes the list whole:
	// atomic, so that the API server tracks one field, not every field of
	// every entry, on each write (docs/benchmarks.md, "Scale").
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Programs []NodeProgram `json:"programs,omitempty"`

	// MapPolicies whose entries this node writes into its programs' maps.
	// +optional
	// +listType=atomic
	MapPolicies []NodeMapPolicy `json:"mapPolicies,omitempty"`
}

// MapConfig configures one map of a program before load.
type MapConfig struct {
	Name string `json:"name"`
	// MaxEntries overrides the object's max_entries; 0 keeps it.
	// +optional
	MaxEntries int32 `json:"maxEntries,omitempty"`
	// Shared names the node-wide map (the MapPolicy's name) every selected
	// program uses.
	// +optional
	Shared string `json:"shared,omitempty"`
}

// NodeMapPolicy is a MapPolicy as it applies on one node.
type NodeMapPolicy struct {
	UID        types.UID `json:"uid"`
	Name       string    `json:"name"`
	Generation int64     `json:"generation"`
	MapName    string    `json:"mapName"`
	// Programs on this node whose map it is.
	// +listType=set
	Programs []types.UID `json:"programs"`
	// Shared is set when the programs share one map of this name.
	// +optional
	Shared string `json:"shared,omitempty"`
	// EntriesFrom is the artifact holding the entries. Without it, the
	// agent reads the entries from the MapPolicy at this generation: they
	// are not copied into every node's set.
	// +optional
	EntriesFrom *NodeEntriesSource `json:"entriesFrom,omitempty"`
	Mode        MapMode            `json:"mode"`
	// +optional
	Atomic bool `json:"atomic,omitempty"`
	// +optional
	Export *MapExport `json:"export,omitempty"`
	// Removing is set when the policy is being deleted: the node removes
	// the keys it lists from the maps and reports Unloading when done.
	// +optional
	Removing bool `json:"removing,omitempty"`
}

// NodeEntriesSource is an entries artifact, pinned to its digest.
type NodeEntriesSource struct {
	// Image is a digest-pinned reference (repo@sha256:…).
	Image string `json:"image"`
	// +optional
	PullPolicy PullPolicy `json:"pullPolicy,omitempty"`
	// +optional
	PullSecret *SecretReference `json:"pullSecret,omitempty"`
	// Verify lists the signature policies the artifact must meet.
	// +optional
	// +kubebuilder:validation:MaxItems=4
	Verify []ImageVerification `json:"verify,omitempty"`
}

// NodeProgram is one program, as scheduled to one node.
type NodeProgram struct {
	// UID of the program resource; names its pin directory.
	UID types.UID `json:"uid"`
	// Kind of the program resource, e.g. TracepointProgram.
	Kind string `json:"kind"`
	// Name of the program resource.
	Name string `json:"name"`
	// Generation of the program resource this entry was made from.
	Generation int64 `json:"generation"`

	// Image is a digest-pinned reference (repo@sha256:…); empty with Path.
	// +optional
	Image string `json:"image,omitempty"`
	// PullPolicy of the image.
	// +optional
	PullPolicy PullPolicy `json:"pullPolicy,omitempty"`
	// PullSecret for the image.
	// +optional
	PullSecret *SecretReference `json:"pullSecret,omitempty"`
	// Verify lists the signature policies the image must meet, every one of
	// them: the cluster's, then the program's.
	// +optional
	// +kubebuilder:validation:MaxItems=4
	Verify []ImageVerification `json:"verify,omitempty"`
	// Path of an object file on the node; empty with Image.
	// +optional
	Path string `json:"path,omitempty"`

	// ProgramName is the function in the object.
	ProgramName string `json:"programName"`
	// GlobalData as in the program resource.
	// +optional
	GlobalData map[string]GlobalValue `json:"globalData,omitempty"`
	// RunStats as in the program resource.
	// +optional
	RunStats bool `json:"runStats,omitempty"`
	// Attach says where the program attaches.
	Attach AttachPoint `json:"attach"`
	// Maps configured by MapPolicies.
	// +optional
	// +listType=map
	// +listMapKey=name
	Maps []MapConfig `json:"maps,omitempty"`
}

// NodeProgramReportStatus is what the node really runs, written by its agent.
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
	Programs []NodeProgramStatus `json:"programs,omitempty"`

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
type NodeProgramStatus struct {
	UID  types.UID `json:"uid"`
	Name string    `json:"name"`
	Kind string    `json:"kind"`
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
	// Digest of the image loaded.
	// +optional
	Digest string `json:"digest,omitempty"`
	// Kernel IDs and the pin directory.
	// +optional
	ProgramID uint32 `json:"programID,omitempty"`
	// Links of the program, one per attach target (e.g. per interface).
	// +optional
	// +listType=map
	// +listMapKey=target
	Links []LinkStatus `json:"links,omitempty"`
	// +optional
	MapIDs map[string]uint32 `json:"mapIDs,omitempty"`
	// +optional
	PinPath string `json:"pinPath,omitempty"`
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
	// Target is what it is attached to on the node, e.g. an interface.
	Target string `json:"target"`
	LinkID uint32 `json:"linkID"`
	// Detail such as the XDP mode or the position on a TCX hook.
	// +optional
	Detail string `json:"detail,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=nps,categories=bpfleet
// +kubebuilder:printcolumn:name="Generation",type=integer,JSONPath=`.metadata.generation`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// NodeProgramSet is what one node must run: named after its node, written by
// the operator, watched by the node's agent. What the node really runs, its
// agent writes in the NodeProgramReport of the same name.
type NodeProgramSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	Spec NodeProgramSetSpec `json:"spec,omitempty"`
}

// +kubebuilder:object:root=true

// NodeProgramSetList is a list of NodeProgramSets.
type NodeProgramSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeProgramSet `json:"items"`
}

func init() {
	SchemeBuilder.Register(&NodeProgramSet{}, &NodeProgramSetList{})
}
