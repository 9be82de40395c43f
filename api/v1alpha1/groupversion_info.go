// Package v1alpha1 holds the bpfleet.io/v1alpha1 API: the program kinds users
// apply, and the per-node NodeProgramSet (written by the operator) and
// NodeProgramReport (written by the node's agent).
// Types and validation markers only; no logic beyond accessors.
//
// +kubebuilder:object:generate=true
// +groupName=bpfleet.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "bpfleet.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
