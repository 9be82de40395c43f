package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RolloutSpec says how a change of a program (a new generation: image,
// globalData, attach settings) reaches its nodes: canary nodes first, then
// batches of at most MaxUnavailable nodes, each once the previous ones run
// it. A failure on a node halts the change; the other nodes keep the
// previous generation.
type RolloutSpec struct {
	// MaxUnavailable is how many nodes take a change at once after the
	// canary nodes: a count, or a percentage of the selected nodes (rounded
	// up; at least one node). Default 25%.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 : self.matches('^[1-9][0-9]?%$|^100%$')",message="maxUnavailable must be a count of at least 1 or a percentage from 1% to 100%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// Canary selects the nodes that take a change first.
	// +optional
	Canary *RolloutCanary `json:"canary,omitempty"`

	// Paused keeps a change from reaching more nodes; nodes that run it
	// keep it.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// RolloutCanary selects canary nodes.
type RolloutCanary struct {
	NodeSelector metav1.LabelSelector `json:"nodeSelector"`
}

// RolloutStatus is where a program's latest generation stands on its
// nodes. The operator writes it and builds node specs from it.
type RolloutStatus struct {
	// Generation is the program generation rolled out.
	Generation int64 `json:"generation"`

	// Released says which nodes may run Generation (see Release). A node
	// already asked to run it keeps it.
	// +kubebuilder:default=None
	Released Release `json:"released"`

	// RankBound is, with Batches, the highest rank released: the nodes
	// other than canaries whose rank (a hash of the program's UID and the
	// node's name, 0 to 4294967295) is at most RankBound run Generation.
	// +optional
	RankBound *int64 `json:"rankBound,omitempty"`

	// Halted is set when Generation failed on a node: it reaches no other
	// node until the spec changes.
	// +optional
	Halted bool `json:"halted,omitempty"`

	// Generations counts, for each generation nodes run or are asked to
	// run, the nodes in each state.
	// +optional
	Generations []GenerationNodes `json:"generations,omitempty"`

	// StableGeneration is the last generation that reached every node: a
	// node that joins while a change is under way, or halted, gets it.
	// +optional
	StableGeneration int64 `json:"stableGeneration,omitempty"`

	// StableRevision names the apps/v1 ControllerRevision that holds
	// StableGeneration's node entry, owned by the program: in the
	// program's namespace, or the operator's for a cluster-scoped program.
	// +optional
	StableRevision string `json:"stableRevision,omitempty"`
}

// Release says which of a program's nodes its rollout released the
// latest generation to.
// +kubebuilder:validation:Enum=None;Canaries;Batches;All
type Release string

const (
	// ReleaseNone releases no node.
	ReleaseNone Release = "None"
	// ReleaseCanaries releases the canary nodes.
	ReleaseCanaries Release = "Canaries"
	// ReleaseBatches releases the canary nodes and the others up to
	// RankBound.
	ReleaseBatches Release = "Batches"
	// ReleaseAll releases every node, and those that join later.
	ReleaseAll Release = "All"
)

// GenerationNodes counts the nodes of one generation.
type GenerationNodes struct {
	Generation int64 `json:"generation"`
	// Digest is the image digest this generation loads.
	// +optional
	Digest string `json:"digest,omitempty"`
	// Updated nodes are asked to run it; Ready ones run it; Pending ones
	// are asked and have not reported it yet.
	Updated int32 `json:"updated"`
	Ready   int32 `json:"ready"`
	Pending int32 `json:"pending"`
}

// ProgramUIDLabel marks the ControllerRevisions that keep a program's
// stable node entry (RolloutStatus.StableRevision); its value is the
// program's UID.
const ProgramUIDLabel = "bpfleet.io/program-uid"
