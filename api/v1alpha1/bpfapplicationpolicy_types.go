package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BpfApplicationPolicyName is the one BpfApplicationPolicy the cluster
// reads: without it, no BpfApplication is admitted.
const BpfApplicationPolicyName = "default"

// BpfApplicationPolicySpec says which images namespaced BpfApplications
// may load: a program is kernel code, even when it targets one pod.
type BpfApplicationPolicySpec struct {
	// Repositories are the images allowed: a registry
	// ("registry.example.com"), a path in one ("registry.example.com/bpf")
	// or a repository ("registry.example.com/bpf/counter"); an image is
	// allowed if its reference is one of them or lies below one.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9.:_/\[\]-]*[a-zA-Z0-9\]]$`
	Repositories []string `json:"repositories"`

	// Verify requires every BpfApplication's image to carry a cosign
	// signature by one of these keys, on top of the operator's
	// cluster-wide policy and the application's own.
	// +optional
	Verify *ImageVerification `json:"verify,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bpfapppolicy,categories=bpfleet
// +kubebuilder:printcolumn:name="Repositories",type=string,JSONPath=`.spec.repositories`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="the cluster reads one BpfApplicationPolicy, named default"

// BpfApplicationPolicy is the cluster's rule for namespaced
// BpfApplications: which images they may load, and the signatures those
// need. A cluster admin writes it; teams read it.
type BpfApplicationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BpfApplicationPolicySpec `json:"spec"`
}

// +kubebuilder:object:root=true

// BpfApplicationPolicyList is a list of BpfApplicationPolicies.
type BpfApplicationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BpfApplicationPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BpfApplicationPolicy{}, &BpfApplicationPolicyList{})
}

// Allows reports whether the policy allows image reference ref.
func (p *BpfApplicationPolicySpec) Allows(ref string) bool {
	for _, r := range p.Repositories {
		if ref == r {
			return true
		}
		if len(ref) > len(r) && ref[:len(r)] == r && (ref[len(r)] == '/' || ref[len(r)] == ':' || ref[len(r)] == '@') {
			return true
		}
	}
	return false
}
