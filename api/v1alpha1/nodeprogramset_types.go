package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeProgramSetSpec is what one node must run. The operator writes it; the
// node's agent reads it.
type NodeProgramSetSpec struct {
	// Scheduled is set by the operator on every spec it writes. A set
	// without it was made by the node's agent (the operator had not made
	// one, or it was deleted): its empty lists say nothing, so the agent
	// unloads nothing it runs until the operator writes the spec.
	// +optional
	Scheduled bool `json:"scheduled,omitempty"`

	// Programs to run on this node. The operator writes the list whole:
	// atomic, so that the API server tracks one field, not every field of
	// every entry, on each write (docs/benchmarks.md, "Scale").
	//
	// Each entry is one JSON string holding the entry's fields as a JSON
	// object (NodeProgramEntries), and schemaless in the CRD
	// (hack/schemaless): the API server checks none of its fields. Decoding
	// and checking the ten-odd values of each entry was most of the API
	// server's CPU per spec write (BenchmarkSetWrite, 100 programs), and
	// the operator is their only writer (RBAC; the agent may create only an
	// empty set, see config/rbac/agent). A hand edit that breaks an entry
	// must not blind the informers that read every set (one object that
	// does not decode fails the whole list): such an entry decodes, with
	// Invalid saying why (NodeProgram.UnmarshalJSON); the agent reports it
	// failed and unloads nothing, and the operator writes the entry anew.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Programs NodeProgramEntries `json:"programs,omitempty"`

	// MapPolicies whose entries this node writes into its programs' maps.
	// +optional
	// +listType=atomic
	MapPolicies []NodeMapPolicy `json:"mapPolicies,omitempty"`

	// Withheld lists the programs (or new generations of programs) that
	// select this node but that Programs leaves out: with them, the set
	// would be larger than the API server stores. The node keeps running
	// what Programs says; removals still reach it; each withheld program
	// reports NodeSpecTooLarge for this node. The agent ignores the list.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Withheld []WithheldProgram `json:"withheld,omitempty"`
}

// WithheldProgram is a generation of a program a node's set cannot hold.
type WithheldProgram struct {
	UID  types.UID `json:"uid"`
	Kind string    `json:"kind"`
	// +optional
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Generation int64  `json:"generation"`
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

// ProgramAttachment is one program of an object and where it attaches.
type ProgramAttachment struct {
	// Name is the program's function in the object.
	Name string `json:"name"`
	// Attach says where it attaches.
	Attach AttachPoint `json:"attach"`
	// Optional lets the node run the object's other programs when it lacks
	// this program's hook.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// Ref names the entry's program resource in logs and metrics: its name,
// or namespace/name for a namespaced kind's.
func (np *NodeProgram) Ref() string {
	if np.Namespace == "" {
		return np.Name
	}
	return np.Namespace + "/" + np.Name
}

// Attachments are the entry's programs with their hooks: an
// application's Programs, or a single program kind's ProgramName on
// Attach.
func (np *NodeProgram) Attachments() []ProgramAttachment {
	if len(np.Programs) > 0 {
		return np.Programs
	}
	return []ProgramAttachment{{Name: np.ProgramName, Attach: np.Attach}}
}

// NodeProgram is one program, or one application of several programs,
// as scheduled to one node.
type NodeProgram struct {
	// Invalid says why the entry as stored does not decode (a field of the
	// wrong JSON type, from a hand edit: the entries are schemaless); empty
	// for an entry the operator wrote. Never stored.
	Invalid string `json:"-"`

	// UID of the program resource; names its pin directory.
	UID types.UID `json:"uid"`
	// Kind of the program resource, e.g. TracepointProgram.
	Kind string `json:"kind"`
	// Namespace of the program resource, for a namespaced kind
	// (BpfApplication): its pod targets are the pods of this namespace
	// only, whatever its selectors say.
	// +optional
	Namespace string `json:"namespace,omitempty"`
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

	// ProgramName is the function in the object, for a single program
	// kind's entry (see Programs).
	// +optional
	ProgramName string `json:"programName,omitempty"`
	// GlobalData as in the program resource.
	// +optional
	GlobalData map[string]GlobalValue `json:"globalData,omitempty"`
	// RunStats as in the program resource.
	// +optional
	RunStats bool `json:"runStats,omitempty"`
	// Attach says where the program attaches, for a single program kind's
	// entry (see Programs).
	// +optional
	Attach AttachPoint `json:"attach,omitzero"`
	// Programs are an application's programs (ClusterBpfApplication),
	// each with its hook: one load of the object for all of them. A single
	// program kind's entry has none, and says ProgramName and Attach (what
	// agents before applications read); Attachments reads either.
	// +optional
	Programs []ProgramAttachment `json:"programs,omitempty"`
	// Maps configured by MapPolicies.
	// +optional
	// +listType=map
	// +listMapKey=name
	Maps []MapConfig `json:"maps,omitempty"`
	// MapAccess as in the program resource: which pods may mount which
	// maps (not part of the revision: a change reloads nothing).
	// +optional
	MapAccess []MapAccessGrant `json:"mapAccess,omitempty"`
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
