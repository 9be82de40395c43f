package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MapPolicySpec declares the state of one map of the selected programs.
// +kubebuilder:validation:XValidation:rule="!has(self.maxEntries) || !has(self.entries) || size(self.entries) <= self.maxEntries",message="more entries than maxEntries"
// +kubebuilder:validation:XValidation:rule="!has(self.entries) || !has(self.entriesFrom)",message="set entries or entriesFrom, not both"
type MapPolicySpec struct {
	// Programs selects the programs whose map this is.
	Programs ProgramSelector `json:"programs"`

	// MapName is the map's name in the programs' objects.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	MapName string `json:"mapName"`

	// MaxEntries overrides the object's max_entries at load; a change
	// reloads the programs without leaving their hooks empty.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16777216
	MaxEntries *int32 `json:"maxEntries,omitempty"`

	// Shared makes one map per node that every selected program uses.
	// +optional
	Shared bool `json:"shared,omitempty"`

	// Entries to write into the map, without reloading the programs.
	// +optional
	// +kubebuilder:validation:MaxItems=10000
	Entries []MapEntry `json:"entries,omitempty"`

	// EntriesFrom takes the entries from an OCI artifact instead: for lists
	// longer than one object holds (up to the map's size), or published by
	// another system. Nodes pull it by digest, as they pull bytecode.
	// +optional
	EntriesFrom *EntriesSource `json:"entriesFrom,omitempty"`

	// Mode: merge manages only the listed keys; exact also removes any
	// other key.
	// +optional
	// +kubebuilder:default=merge
	Mode MapMode `json:"mode,omitempty"`

	// Atomic writes all entries or none.
	// +optional
	Atomic bool `json:"atomic,omitempty"`

	// FillWarningPercent sets the MapFull condition and an Event when a
	// node's map is fuller than this.
	// +optional
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FillWarningPercent int32 `json:"fillWarningPercent,omitempty"`

	// Export publishes the map's values as Prometheus series from every
	// node's agent: BTF key fields become labels, the value the sample.
	// +optional
	Export *MapExport `json:"export,omitempty"`
}

// EntriesSource is an OCI artifact holding a map's entries: one layer, a
// JSON array of {key, value} as in spec.entries, of media type
// application/vnd.bpfleet.map.entries.v1+json (gzip'd or not). The stock
// oras CLI makes one:
//
//	oras push registry.example.com/blocklist:v2 \
//	  entries.json:application/vnd.bpfleet.map.entries.v1+json \
//	  --artifact-type application/vnd.bpfleet.map.entries.v1
type EntriesSource struct {
	// Image is the artifact. A tag is resolved to a digest once; to publish
	// new entries, change the reference (a new tag, or a digest).
	Image ImageSource `json:"image"`
}

// MapExport says how map values are exported.
type MapExport struct {
	// Type of the series: counter (values only grow) or gauge.
	Type MetricType `json:"type"`
	// MaxSeries caps the series one node exports for this map; the cap
	// being hit is reported.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	MaxSeries int32 `json:"maxSeries,omitempty"`
}

// MetricType is a Prometheus metric type.
// +kubebuilder:validation:Enum=counter;gauge
type MetricType string

// Metric types.
const (
	MetricCounter MetricType = "counter"
	MetricGauge   MetricType = "gauge"
)

// ProgramSelector picks programs: exactly one of refs or selector.
// +kubebuilder:validation:XValidation:rule="has(self.refs) != has(self.selector)",message="set exactly one of programs.refs or programs.selector"
type ProgramSelector struct {
	// Refs names programs by kind and name.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Refs []ProgramRef `json:"refs,omitempty"`
	// Selector matches the labels of program resources of every kind.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ProgramRef names one program resource.
type ProgramRef struct {
	Kind ProgramKindName `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// MapEntry is a key and its value. Each is a number (an integer of the
// map's key or value size), a string ("0x…" hex bytes of the exact size, or
// a value typed through the map's BTF, e.g. an IPv4 address), or an object
// of BTF struct fields, e.g. {addr: "10.0.0.1"}.
type MapEntry struct {
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:XPreserveUnknownFields
	// +kubebuilder:validation:Type=""
	Key apiextensionsv1.JSON `json:"key"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:XPreserveUnknownFields
	// +kubebuilder:validation:Type=""
	Value apiextensionsv1.JSON `json:"value"`
}

// MapMode says which keys a policy manages.
// +kubebuilder:validation:Enum=merge;exact
type MapMode string

// Map modes.
const (
	MapMerge MapMode = "merge"
	MapExact MapMode = "exact"
)

// MapPolicyStatus reports the policy on every node that runs a selected
// program.
type MapPolicyStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// EntriesImage is the entriesFrom reference and the digest every node
	// writes from.
	// +optional
	EntriesImage *ResolvedImage `json:"entriesImage,omitempty"`
	// Conditions: Ready, and Reconciling, Stalled and MapFull while True.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	Nodes NodeCounts `json:"nodes,omitempty"`
	// Failures lists nodes where the policy is not fully applied, at most 10.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Failures []NodeFailure `json:"failures,omitempty"`
	// Usage per node: entries against max entries, the fullest first, at
	// most 10.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Usage []MapUsage `json:"usage,omitempty"`
}

// MapUsage is how full a map is on one node.
type MapUsage struct {
	Node       string `json:"node"`
	Entries    int32  `json:"entries"`
	MaxEntries int32  `json:"maxEntries"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mp,categories=bpfleet
// +kubebuilder:printcolumn:name="Map",type=string,JSONPath=`.spec.mapName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes.summary`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MapPolicy declares the size, sharing and entries of a map of the
// selected programs, on every node that runs them.
type MapPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MapPolicySpec   `json:"spec"`
	Status MapPolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// MapPolicyList is a list of MapPolicies.
type MapPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MapPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MapPolicy{}, &MapPolicyList{})
}
