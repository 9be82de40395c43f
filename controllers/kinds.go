package controllers

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Kind describes one program kind to the reconcilers.
type Kind struct {
	Name string
	// Hook is the hook the kind's programs attach to.
	Hook string
	// Namespaced kinds (BpfApplication) reach the pods of their own
	// namespace only, with images the BpfApplicationPolicy allows.
	Namespaced bool
	New        func() bpfleetv1.Program
	NewList    func() client.ObjectList
}

// Kinds lists every program kind the operator reconciles: every kind
// bpfleetv1.ProgramKinds registers, sorted by name.
var Kinds = kindsOf(bpfleetv1.ProgramKinds)

// kindsOf describes the registered kinds to the reconcilers.
func kindsOf(registered []bpfleetv1.ProgramKind) []Kind {
	out := make([]Kind, len(registered))
	for i, k := range registered {
		out[i] = Kind{Name: k.Kind, Hook: k.Hook, New: k.New, NewList: k.NewList, Namespaced: k.Namespaced}
	}
	return out
}

// hookOf is the hook of the programs of kind, from the registered kinds
// (cheaper than a program's AttachPoint, which encodes its settings).
func hookOf(kind string) string {
	k, _ := bpfleetv1.ProgramKindOf(kind)
	return k.Hook
}

// unsupportedHook says why the node cannot run program p (of kind), by
// caps (nil: not known yet): a hook it needs that the node lacks, the
// kind's or one of an application's programs' but the optional ones; ""
// if p runs there.
func unsupportedHook(caps *bpfleetv1.NodeCapabilities, kind string, p bpfleetv1.Program) string {
	if h := hookOf(kind); h != "" || caps == nil {
		if why := caps.Unsupported(h); why != "" {
			return fmt.Sprintf("%s programs cannot run on this node: %s", h, why)
		}
		return ""
	}
	for _, a := range p.Attachments() {
		if why := caps.Unsupported(a.Attach.Hook); why != "" && !a.Optional {
			return fmt.Sprintf("program %s needs the %s hook, which this node lacks: %s", a.Name, a.Attach.Hook, why)
		}
	}
	return ""
}

// Items returns the programs of list, one of k's lists. They point into
// the list, not copies: lists taken with client.UnsafeDisableDeepCopy
// share the cache's objects, which must not be written.
func (k Kind) Items(list client.ObjectList) []bpfleetv1.Program {
	objs, err := meta.ExtractList(list)
	if err != nil {
		// Every registered list type has Items of its kind (registerProgram).
		panic(fmt.Sprintf("items of %s: %v", k.Name, err))
	}
	out := make([]bpfleetv1.Program, len(objs))
	for i, o := range objs {
		out[i] = o.(bpfleetv1.Program)
	}
	return out
}
