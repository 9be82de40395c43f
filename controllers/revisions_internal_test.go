package controllers

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A revision's name is a valid object name whatever the program's, and
// differs between programs of the same name (a program made anew); it
// lives in a namespaced program's namespace, else the operator's.
func TestRevisionNamesAndNamespaces(t *testing.T) {
	long := strings.Repeat("a", 240) + "." + strings.Repeat("b", 12)
	for _, p := range []bpfleetv1.Program{
		&bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{Name: "opens", UID: "u-1", Generation: 2}},
		&bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{Name: long, UID: "u-1", Generation: 12345}},
	} {
		name := revisionName("TracepointProgram", p)
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("revision name %q: %v", name, errs)
		}
		if !strings.HasPrefix(name, "tracepointprogram-") || !strings.HasSuffix(name, fmt.Sprintf("-%d", p.GetGeneration())) {
			t.Errorf("revision name %q, want the kind first and the generation last", name)
		}
	}
	a := &bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{Name: "opens", UID: "u-1", Generation: 1}}
	b := &bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{Name: "opens", UID: "u-2", Generation: 1}}
	if revisionName("TracepointProgram", a) == revisionName("TracepointProgram", b) {
		t.Errorf("programs of one name, two UIDs: one revision name %s", revisionName("TracepointProgram", a))
	}
	app := &bpfleetv1.BpfApplication{ObjectMeta: metav1.ObjectMeta{Name: "flows", Namespace: "team"}}
	if ns := revisionNamespace(app, "bpfleet-system"); ns != "team" {
		t.Errorf("a BpfApplication's revisions in %q, want its namespace", ns)
	}
	if ns := revisionNamespace(a, "bpfleet-system"); ns != "bpfleet-system" {
		t.Errorf("a cluster-scoped program's revisions in %q, want the operator's namespace", ns)
	}
}
