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
	kind[bpfleetv1.TracepointProgram, bpfleetv1.TracepointProgramList]("TracepointProgram",
		func(l *bpfleetv1.TracepointProgramList) []bpfleetv1.TracepointProgram { return l.Items }),
	kind[bpfleetv1.XdpProgram, bpfleetv1.XdpProgramList]("XdpProgram",
		func(l *bpfleetv1.XdpProgramList) []bpfleetv1.XdpProgram { return l.Items }),
	kind[bpfleetv1.TcxProgram, bpfleetv1.TcxProgramList]("TcxProgram",
		func(l *bpfleetv1.TcxProgramList) []bpfleetv1.TcxProgram { return l.Items }),
	kind[bpfleetv1.UprobeProgram, bpfleetv1.UprobeProgramList]("UprobeProgram",
		func(l *bpfleetv1.UprobeProgramList) []bpfleetv1.UprobeProgram { return l.Items }),
	kind[bpfleetv1.KprobeProgram, bpfleetv1.KprobeProgramList]("KprobeProgram",
		func(l *bpfleetv1.KprobeProgramList) []bpfleetv1.KprobeProgram { return l.Items }),
	kind[bpfleetv1.FentryProgram, bpfleetv1.FentryProgramList]("FentryProgram",
		func(l *bpfleetv1.FentryProgramList) []bpfleetv1.FentryProgram { return l.Items }),
	kind[bpfleetv1.FexitProgram, bpfleetv1.FexitProgramList]("FexitProgram",
		func(l *bpfleetv1.FexitProgramList) []bpfleetv1.FexitProgram { return l.Items }),
}

// kind describes a program type T with list type L to the reconcilers.
func kind[T, L any, PT interface {
	*T
	bpfleetv1.Program
}, PL interface {
	*L
	client.ObjectList
}](name string, items func(*L) []T) Kind {
	return Kind{
		Name:    name,
		New:     func() bpfleetv1.Program { return PT(new(T)) },
		NewList: func() client.ObjectList { return PL(new(L)) },
		Items:   func(l client.ObjectList) []bpfleetv1.Program { return itemsOf[T, PT](items(l.(PL))) },
	}
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
