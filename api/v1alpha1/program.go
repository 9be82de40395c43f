package v1alpha1

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Program is what every program kind offers the operator, which reconciles
// all kinds through this one interface.
// +kubebuilder:object:generate=false
type Program interface {
	client.Object
	// Source is where the object comes from and where it runs.
	Source() *ProgramSource
	ProgramStatus() *ProgramStatus
	// Attachments are the object's programs to run, each with its hook:
	// one for the single-program kinds.
	Attachments() []ProgramAttachment
}
