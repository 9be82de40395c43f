package controllers

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Kind describes one program kind to the reconcilers.
type Kind struct {
	Name    string
	New     func() bpfleetv1.Program
	NewList func() client.ObjectList
	Items   func(client.ObjectList) []bpfleetv1.Program
}

// Kinds lists every program kind the operator reconciles.
var Kinds = []Kind{
	{
		Name:    "TracepointProgram",
		New:     func() bpfleetv1.Program { return &bpfleetv1.TracepointProgram{} },
		NewList: func() client.ObjectList { return &bpfleetv1.TracepointProgramList{} },
		Items: func(l client.ObjectList) []bpfleetv1.Program {
			return itemsOf(l.(*bpfleetv1.TracepointProgramList).Items)
		},
	},
}

func itemsOf[T any, PT interface {
	*T
	bpfleetv1.Program
}](items []T) []bpfleetv1.Program {
	out := make([]bpfleetv1.Program, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

func kindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}
