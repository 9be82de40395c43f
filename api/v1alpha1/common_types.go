package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProgramSource is what every program kind and application shares: where
// the object comes from, which nodes run it, its globals, its statistics
// and how a change rolls out.
// +kubebuilder:validation:XValidation:rule="!has(self.globalData) || self.globalData.all(k, size(k) <= 256)",message="globalData names must be at most 256 characters",fieldPath=".globalData"
// +kubebuilder:validation:XValidation:rule="!has(self.globalData) || self.globalData.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))",message="globalData keys must be C identifiers (letters, digits, underscore; not starting with a digit)"
// +kubebuilder:validation:XValidation:rule="!has(self.globalData) || self.globalData.all(k, self.globalData[k].matches('^(-?[0-9]+|0x([0-9a-fA-F]{2})+|true|false)$'))",message="globalData values must be a decimal integer (\"42\", \"-1\"), true/false, or hex bytes of the variable's exact width (\"0x0a000001\")"
type ProgramSource struct {
	// ByteCode says where the eBPF object comes from.
	ByteCode ByteCodeSource `json:"byteCode"`

	// NodeSelector selects the nodes to run on. Empty selects every node.
	// +optional
	NodeSelector metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// GlobalData sets read-only global variables (volatile const) before load,
	// by name. Values: a decimal integer, true/false, or 0x-prefixed hex bytes
	// of the variable's exact width. At most 64 variables, names of at most
	// 256 characters, values of at most 128 bytes: every node's set copies
	// them.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	GlobalData map[string]GlobalValue `json:"globalData,omitempty"`

	// RunStats publishes how often the program runs and for how long
	// (bpfleet_agent_program_run_count_total and
	// bpfleet_agent_program_run_time_seconds_total). The kernel counts for
	// every program while any asks (a few nanoseconds per run), so a node
	// turns its BPF statistics on only while a program there sets this.
	// +optional
	RunStats bool `json:"runStats,omitempty"`

	// Rollout says how a change reaches the nodes: canary nodes first, then
	// batches; it halts on a failure.
	// +optional
	Rollout *RolloutSpec `json:"rollout,omitempty"`

	// MapAccess says which pods may mount which of the object's maps
	// through the CSI driver csi.bpfleet.io (a csi volume naming this
	// resource), and how: read-only unless a grant says ReadWrite. A pod
	// no grant names gets no map. A change applies to mounts made after
	// it: it reloads nothing.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	MapAccess []MapAccessGrant `json:"mapAccess,omitempty"`
}

// MapAccessGrant lets the pods of one service account mount maps of the
// program.
type MapAccessGrant struct {
	// Namespace of the pods.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`

	// ServiceAccount the pods run as.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ServiceAccount string `json:"serviceAccount"`

	// Maps the pods may mount, by their names in the object.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Maps []MapName `json:"maps"`

	// Access is Read (the default: the pods can look entries up, never
	// change them) or ReadWrite.
	// +optional
	// +kubebuilder:default=Read
	Access MapAccessMode `json:"access,omitempty"`
}

// MapName is a map's name in an object.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
type MapName string

// MapAccessMode is how a pod may use a map it mounts.
// +kubebuilder:validation:Enum=Read;ReadWrite
type MapAccessMode string

// Map access modes.
const (
	MapRead      MapAccessMode = "Read"
	MapReadWrite MapAccessMode = "ReadWrite"
)

// ProgramCommon is embedded by every single-program kind: the source and
// the program's name in the object.
type ProgramCommon struct {
	ProgramSource `json:",inline"`

	// ProgramName is the name of the program (its C function) in the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	ProgramName string `json:"programName"`
}

// attachment is the kind's one program, attached at a.
func (c *ProgramCommon) attachment(a AttachPoint) []ProgramAttachment {
	return []ProgramAttachment{{Name: c.ProgramName, Attach: a}}
}

// GlobalValue is the value of one global variable.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=258
type GlobalValue string

// ByteCodeSource is exactly one of an OCI image or a path on the node.
// +kubebuilder:validation:XValidation:rule="has(self.image) != has(self.path)",message="exactly one of byteCode.image or byteCode.path must be set"
type ByteCodeSource struct {
	// Image is an OCI image holding the object (bpfman's image format).
	// +optional
	Image *ImageSource `json:"image,omitempty"`

	// Path is an absolute path of an object file on the node, for development.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^/[^\x00]*$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('/../') && !self.endsWith('/..')",message="byteCode.path must not contain '..' elements"
	// +kubebuilder:validation:XValidation:rule="!['/proc', '/sys', '/dev'].exists(d, self == d || self.startsWith(d + '/'))",message="byteCode.path must not be under /proc, /sys or /dev"
	Path string `json:"path,omitempty"`
}

// ImageSource names an OCI image and how to pull it.
type ImageSource struct {
	// Ref is an image reference, by tag (resolved once to a digest by the
	// operator) or by digest: "registry.example.com/team/prog:v1".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9.:_/\[\]-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`
	Ref string `json:"ref"`

	// PullPolicy says when a node pulls the image again.
	// +optional
	// +kubebuilder:default=IfNotPresent
	PullPolicy PullPolicy `json:"pullPolicy,omitempty"`

	// PullSecret names a kubernetes.io/dockerconfigjson Secret with
	// credentials for the registry, in a namespace the operator serves
	// (default bpfleet-system).
	// +optional
	PullSecret *SecretReference `json:"pullSecret,omitempty"`

	// Verify requires the image to carry a cosign signature by one of the
	// keys, checked on every node against the digest it loads. It adds to
	// the cluster-wide policy of the operator, never relaxes it.
	// +optional
	Verify *ImageVerification `json:"verify,omitempty"`
}

// ImageVerification says which keys an image must be signed with.
type ImageVerification struct {
	// Keys hold cosign public keys (cosign.pub, PEM); a signature by any one
	// of them verifies the image. Their Secrets are in namespaces the
	// operator serves (default bpfleet-system).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Keys []KeyReference `json:"keys"`

	// Required refuses an unsigned image when true (the default). When
	// false, an unsigned image loads, but an image with signatures loads
	// only if one of them verifies.
	// +optional
	// +kubebuilder:default=true
	Required *bool `json:"required,omitempty"`
}

// IsRequired reports whether an unsigned image is refused.
func (v *ImageVerification) IsRequired() bool { return v.Required == nil || *v.Required }

// KeyReference names a public key held in a Secret.
type KeyReference struct {
	SecretReference `json:",inline"`
	// Key is the Secret's data key that holds the PEM public key.
	// +optional
	// +kubebuilder:default=cosign.pub
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// PullPolicy says when an image is pulled.
// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
type PullPolicy string

// Pull policies.
const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// SecretReference names a Secret in a namespace. The namespace must be
// one the operator serves (its --secret-namespaces, by default the
// install namespace bpfleet-system): the operator reads the Secret and
// lets the agents read it there only; a Secret elsewhere stalls the
// resource with reason SecretNamespaceNotAllowed.
type SecretReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
}

// ProgramStatus is the status every program kind reports.
type ProgramStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, and Reconciling and Stalled while True.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Image is the image reference and the digest every node loads.
	// +optional
	Image *ResolvedImage `json:"image,omitempty"`

	// Rollout is where the latest generation stands on the nodes.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`

	// Nodes counts the selected nodes by state.
	// +optional
	Nodes NodeCounts `json:"nodes,omitempty"`

	// Pods counts, for a program with pod targets, the pods its selectors
	// match on the selected nodes and where it attached.
	// +optional
	Pods *PodsSummary `json:"pods,omitempty"`

	// Failures lists nodes where the program does not run, at most 10.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Failures []NodeFailure `json:"failures,omitempty"`
}

// ResolvedImage is a reference and the manifest digest it resolved to.
type ResolvedImage struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// NodeCounts counts the selected nodes by state.
type NodeCounts struct {
	// +optional
	Selected int32 `json:"selected,omitempty"`
	// +optional
	Ready int32 `json:"ready,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// +optional
	Unsupported int32 `json:"unsupported,omitempty"`
	// Summary is "ready/selected", for kubectl get.
	Summary string `json:"summary,omitempty"`
}

// NodeFailure says why a program does not run on one node.
type NodeFailure struct {
	Node    string `json:"node"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// VerifierLog is the tail of the verifier log, when the verifier refused.
	// +optional
	VerifierLog string `json:"verifierLog,omitempty"`
}
