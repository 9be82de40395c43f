package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodSelector picks the pods a program attaches in, on each selected
// node: the running pods whose labels match pods, in namespaces whose
// labels match namespaces. Pods of the host's network (hostNetwork) have
// no network namespace of their own and never match a network namespace
// target.
type PodSelector struct {
	// Pods selects pods by their labels; {} selects every pod of the
	// selected namespaces.
	Pods LabelSelector `json:"pods"`
	// Namespaces selects the pods' namespaces by their labels, e.g.
	// {matchLabels: {kubernetes.io/metadata.name: team-a}}. Omitted, pods
	// of every namespace match.
	// +optional
	Namespaces *LabelSelector `json:"namespaces,omitempty"`
}

// LabelSelector selects objects by their labels, as a Deployment's
// selector does (matchLabels and matchExpressions, all of them must
// hold), within bounds the API server can check cheaply.
type LabelSelector struct {
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=16
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one condition on a label: In and NotIn
// take values, Exists and DoesNotExist none.
// +kubebuilder:validation:XValidation:rule="(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",message="matchExpressions: In and NotIn take values, Exists and DoesNotExist none"
type LabelSelectorRequirement struct {
	// Key is the label's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	Key string `json:"key"`
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	Values []string `json:"values,omitempty"`
}

// Meta is s as Kubernetes' own selector type.
func (s *LabelSelector) Meta() *metav1.LabelSelector {
	out := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
	}
	return out
}

// ContainerSelector picks containers of the selected pods: those named
// in containerNames, or every container of the pod.
type ContainerSelector struct {
	PodSelector `json:",inline"`
	// ContainerNames are the containers of each pod to probe; omitted,
	// every container of the pod.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	ContainerNames []ContainerName `json:"containerNames,omitempty"`
}

// ContainerName is a container's name in a pod spec (a DNS label).
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
type ContainerName string

// PodTargetsStatus counts, on one node, the pods a program's selectors
// match and where it attached.
type PodTargetsStatus struct {
	// Matched counts the running pods of the node its selectors match.
	Matched int32 `json:"matched"`
	// Attached counts the matched pods where every target is attached.
	Attached int32 `json:"attached"`
	// Failed counts the matched pods where a target failed to attach.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Failures say why, for at most MaxPodFailuresReported pods.
	// +optional
	Failures []PodFailure `json:"failures,omitempty"`
}

// MaxPodFailuresReported bounds the pod failures one report entry lists.
const MaxPodFailuresReported = 8

// PodFailure is why a program did not attach in one pod.
type PodFailure struct {
	// Pod is namespace/name.
	Pod     string `json:"pod"`
	Message string `json:"message"`
}

// PodsSummary counts, over the selected nodes, the pods a program's
// selectors match and where it attached.
type PodsSummary struct {
	// +optional
	Matched int32 `json:"matched,omitempty"`
	// +optional
	Attached int32 `json:"attached,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Summary is "attached/matched", for kubectl get.
	// +optional
	Summary string `json:"summary,omitempty"`
}
