package v1alpha1

import (
	"reflect"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ProgramKind is one program kind, as its own file registers it: the one
// list from which the operator's reconcilers, the MapPolicy kind enum, the
// RBAC rules and the Argo CD health checks are derived (hack/kinds).
// +kubebuilder:object:generate=false
type ProgramKind struct {
	// Kind is the resource's kind, e.g. TracepointProgram.
	Kind string
	// Hook is the hook its programs attach to, e.g. Tracepoint; "" for
	// an application, whose programs name theirs.
	Hook string
	// Namespaced kinds' objects live in a namespace (BpfApplication).
	Namespaced bool
	// New returns an empty object of the kind; NewList an empty list.
	New     func() Program
	NewList func() client.ObjectList
}

// ProgramKinds lists every program kind, sorted by name. From it hack/kinds
// generates ProgramKindName (zz_generated.kinds.go): a kind's name, whose
// enum lists them all.
var ProgramKinds []ProgramKind

// registerProgram adds program kind T, listed by L, to the scheme and to
// ProgramKinds. Each kind's file calls it from init. (The one piece of
// logic in api/: registration, as SchemeBuilder.Register is, so that a
// kind is one file.)
func registerProgram[T, L any, PT interface {
	*T
	Program
}, PL interface {
	*L
	client.ObjectList
}]() {
	SchemeBuilder.Register(PT(new(T)), PL(new(L)))
	k := ProgramKind{
		Kind:       reflect.TypeFor[T]().Name(),
		Hook:       kindHook(PT(new(T)).Attachments()),
		Namespaced: isNamespaced(PT(new(T))),
		New:        func() Program { return PT(new(T)) },
		NewList:    func() client.ObjectList { return PL(new(L)) },
	}
	i := sort.Search(len(ProgramKinds), func(i int) bool { return ProgramKinds[i].Kind >= k.Kind })
	ProgramKinds = append(ProgramKinds[:i], append([]ProgramKind{k}, ProgramKinds[i:]...)...)
}

// isNamespaced reports whether a kind's objects live in a namespace: those
// that say so (Namespaced).
func isNamespaced(p Program) bool {
	n, ok := p.(interface{ Namespaced() bool })
	return ok && n.Namespaced()
}

// kindHook is the hook of a kind whose empty object attaches one program,
// "" for an application.
func kindHook(of []ProgramAttachment) string {
	if len(of) != 1 {
		return ""
	}
	return of[0].Attach.Hook
}

// ProgramKindOf returns the registered kind called name.
func ProgramKindOf(name string) (ProgramKind, bool) {
	for _, k := range ProgramKinds {
		if k.Kind == name {
			return k, true
		}
	}
	return ProgramKind{}, false
}
