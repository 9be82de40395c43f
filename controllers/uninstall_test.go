package controllers_test

import (
	"context"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/controllers"
)

// A CRD deleted while its objects hold bpfleet's finalizer — as
// `kubectl delete -k` of the whole install deletes bpfleet's, with the
// operator — waits on them, forever without an operator. The operator,
// seeing the deletion, releases them at once (no node is waited for), and
// the CRD goes; the kind's reconcilers are told, so that none adds the
// finalizer again while it goes.
func TestCRDDeletionReleasesItsObjects(t *testing.T) {
	ctx := context.Background()
	gvk, err := plane.CRD(ctx, "uninstall.bpfleet.test", "Widget", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	const crdName = "widgets.uninstall.bpfleet.test"
	createHeld(t, gvk)
	crd := crdObject(crdName)
	if err := k8s.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := k8s.Get(ctx, types.NamespacedName{Name: crdName}, crd); err != nil || crd.GetDeletionTimestamp().IsZero() {
		t.Fatalf("the CRD, deleted, does not wait on its object's finalizer (%v): nothing to test", err)
	}

	r := &controllers.UninstallReconciler{Client: k8s, Deleted: &controllers.DeletedKinds{}, Held: map[string]controllers.HeldKind{crdName: heldKind(gvk)}}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Name: crdName}}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if !r.Deleted.Has(crdName) {
		t.Error("the kind's reconcilers were not told its CRD is being deleted: they would add the finalizer again")
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(k8s.Get(ctx, types.NamespacedName{Name: crdName}, crd)), nil
	})
	if err != nil {
		t.Fatalf("the CRD is still there, its object held: %v", err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil || r.Deleted.Has(crdName) {
		t.Errorf("the CRD gone, its kind is still taken for deleted (%v): one made anew would get no finalizer", err)
	}
}

// Deleting the NodeProgramSets' CRD is bpfleet being uninstalled: every
// agent unloads all it runs, and the operator releases every held object
// at once, whichever CRD goes first (`kubectl delete -k` deletes the
// sets' first). A program deleted then goes without waiting for a node.
func TestSetCRDDeletionReleasesEveryKind(t *testing.T) {
	ctx := context.Background()
	gvk, err := plane.CRD(ctx, "sets-uninstall.bpfleet.test", "Gadget", "gadgets")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plane.CRD(ctx, "sets-uninstall.bpfleet.test", "Set", "sets"); err != nil {
		t.Fatal(err)
	}
	const gadgets, sets = "gadgets.sets-uninstall.bpfleet.test", "sets.sets-uninstall.bpfleet.test"
	gadget := createHeld(t, gvk)
	if err := k8s.Delete(ctx, gadget); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, crdObject(sets)); err != nil {
		t.Fatal(err)
	}

	r := &controllers.UninstallReconciler{Client: k8s, Deleted: &controllers.DeletedKinds{}, SetCRD: sets, Held: map[string]controllers.HeldKind{gadgets: heldKind(gvk)}}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: sets}}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(gadget), gadget)), nil
	})
	if err != nil {
		t.Fatalf("the deleted gadget still waits on its finalizer with the sets' CRD deleted: %v", err)
	}
	if !r.Deleted.Has(gadgets) {
		t.Error("the gadgets' reconcilers were not told bpfleet is being uninstalled")
	}
	// A reconcile of the gadgets' CRD, still there, keeps them released.
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: gadgets}}); err != nil || !r.Deleted.Has(gadgets) {
		t.Errorf("a look at the gadgets' CRD took them for live again while the sets' CRD goes (%v)", err)
	}
}

// createHeld creates an object of kind gvk, named held, holding bpfleet's
// finalizer.
func createHeld(t *testing.T, gvk schema.GroupVersionKind) *unstructured.Unstructured {
	t.Helper()
	o := &unstructured.Unstructured{}
	o.SetGroupVersionKind(gvk)
	o.SetName("held")
	o.SetFinalizers([]string{bpfleetv1.Finalizer})
	if err := k8s.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// heldKind is kind gvk, as UninstallReconciler holds it.
func heldKind(gvk schema.GroupVersionKind) controllers.HeldKind {
	return controllers.HeldKind{Kind: gvk.Kind, NewList: func() client.ObjectList {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		return l
	}}
}

// crdObject is the CRD named name, to delete or read.
func crdObject(name string) *unstructured.Unstructured {
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	crd.SetName(name)
	return crd
}
