package controllers_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/controllers"
)

// TestKindsAreTheRegisteredKinds checks the operator reconciles every kind
// the API registers, and that Items points into the list it reads.
func TestKindsAreTheRegisteredKinds(t *testing.T) {
	if len(controllers.Kinds) != len(bpfleetv1.ProgramKinds) {
		t.Fatalf("%d kinds, %d registered", len(controllers.Kinds), len(bpfleetv1.ProgramKinds))
	}
	for i, k := range controllers.Kinds {
		if want := bpfleetv1.ProgramKinds[i].Kind; k.Name != want {
			t.Errorf("kind %d is %s, want %s", i, k.Name, want)
		}
		list := k.NewList()
		if err := meta.SetList(list, []runtime.Object{k.New(), k.New()}); err != nil {
			t.Fatalf("%s: %v", k.Name, err)
		}
		items := k.Items(list)
		items[1].SetName("second")
		if again := k.Items(list); len(again) != 2 || again[1].GetName() != "second" {
			t.Errorf("%s: Items copies the list's items", k.Name)
		}
	}
}
