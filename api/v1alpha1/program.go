package v1alpha1

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Program is what every program kind offers the operator, which reconciles
// all kinds through this one interface.
// +kubebuilder:object:generate=false
type Program interface {
	client.Object
	Common() *ProgramCommon
	ProgramStatus() *ProgramStatus
	AttachPoint() AttachPoint
}
