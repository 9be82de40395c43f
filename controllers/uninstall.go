package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// UninstallReconciler releases at once every resource whose CRD is being
// deleted, and every resource once the NodeProgramSets' CRD is (bpfleet is
// being uninstalled): bpfleet's finalizer then no longer waits for the
// nodes.
//
// Deleting a CRD deletes every resource of its kind, and a CRD is deleted
// when bpfleet is uninstalled. `kubectl delete -k config/default` deletes,
// within the same second, the CRDs, the operator's
// pods and the ServiceAccount, ClusterRole and ClusterRoleBinding its
// access comes from: a finalizer released only once every node reported
// the program unloaded would wait for an operator that is gone, forever,
// and hold its CRD with it. So a program whose CRD is being deleted is
// released as soon as the operator sees the deletion, while its access
// lasts; the agents unload what they run on their own once the sets' CRD
// goes (nodesync, uninstalled). Every replica does it, leader or not.
type UninstallReconciler struct {
	Client client.Client
	// Held lists, by CRD name, the kinds whose resources hold bpfleet's
	// finalizer.
	Held map[string]HeldKind
	// Deleted is told of the kinds being deleted, so that their
	// reconcilers no longer add the finalizer.
	Deleted *DeletedKinds
	// SetCRD is the NodeProgramSets' CRD ("":
	// bpfleetv1.NodeProgramSetCRD). Once it is being deleted, bpfleet is
	// being uninstalled: every agent unloads all it runs, and every held
	// resource is released.
	SetCRD string
}

// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// Reconcile releases the resources of a CRD being deleted (of every held
// kind, for the sets' CRD), and looks again until it is gone (a reconcile
// that read a resource before may add the finalizer once more).
func (r *UninstallReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	crd := crdMeta(req.Name)
	if err := r.Client.Get(ctx, req.NamespacedName, crd); err != nil || crd.DeletionTimestamp.IsZero() {
		// Gone, or made anew; while the sets' CRD goes, every kind stays
		// released.
		if (err == nil || apierrors.IsNotFound(err)) && (req.Name == r.setCRD() || !r.Deleted.Has(r.setCRD())) {
			r.Deleted.set(req.Name, false)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	crds := []string{req.Name}
	if req.Name == r.setCRD() {
		r.Deleted.set(req.Name, true)
		crds = slices.Collect(maps.Keys(r.Held))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	released := 0
	var listErr error
	for _, name := range crds {
		r.Deleted.set(name, true)
		list := r.Held[name].NewList()
		items, err := r.list(ctx, list)
		if err != nil {
			listErr = errors.Join(listErr, fmt.Errorf("%s: %w", name, err))
			continue
		}
		for _, item := range items {
			o, ok := item.(client.Object)
			if !ok || !controllerutil.ContainsFinalizer(o, bpfleetv1.Finalizer) {
				continue
			}
			released++
			g.Go(func() error { return r.release(gctx, o) })
		}
	}
	err := errors.Join(listErr, g.Wait())
	if released > 0 {
		ctrl.LoggerFrom(ctx).Info("CRD being deleted: released what it deletes without waiting for the nodes (the agents unload on their own)",
			"crd", req.Name, "released", released)
	}
	return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, err
}

func (r *UninstallReconciler) setCRD() string {
	if r.SetCRD != "" {
		return r.SetCRD
	}
	return bpfleetv1.NodeProgramSetCRD
}

// list lists the objects of list's kind.
func (r *UninstallReconciler) list(ctx context.Context, list client.ObjectList) ([]runtime.Object, error) {
	if err := r.Client.List(ctx, list); err != nil {
		return nil, err
	}
	return meta.ExtractList(list)
}

// release takes bpfleet's finalizer off o, reading it again when it
// changed meanwhile.
func (r *UninstallReconciler) release(ctx context.Context, o client.Object) error {
	for range 5 {
		base := o.DeepCopyObject().(client.Object)
		if !controllerutil.RemoveFinalizer(o, bpfleetv1.Finalizer) {
			return nil
		}
		err := r.Client.Patch(ctx, o, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if !apierrors.IsConflict(err) {
			return client.IgnoreNotFound(err)
		}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	return fmt.Errorf("%s: release: changed five times meanwhile", o.GetName())
}

// SetupWithManager watches the metadata of the held kinds' CRDs, on every
// replica.
func (r *UninstallReconciler) SetupWithManager(mgr ctrl.Manager) error {
	held := predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := r.Held[o.GetName()]
		return ok || o.GetName() == r.setCRD()
	})
	return ctrl.NewControllerManagedBy(mgr).Named("uninstall").
		For(crdMeta(""), builder.OnlyMetadata, builder.WithPredicates(held)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		Complete(r)
}

// crdMeta is the metadata of the CRD named name.
func crdMeta(name string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	m.Name = name
	return m
}

// HeldKind is a kind whose resources hold bpfleet's finalizer.
type HeldKind struct {
	Kind string
	// NewList makes an empty list of the kind.
	NewList func() client.ObjectList
}

// heldKinds are the kinds whose resources hold bpfleet's finalizer, by
// CRD name (the resource's plural and group, as the API server maps it).
func heldKinds(mapper meta.RESTMapper) (map[string]HeldKind, error) {
	kinds := []HeldKind{{Kind: "MapPolicy", NewList: func() client.ObjectList { return &bpfleetv1.MapPolicyList{} }}}
	for _, k := range bpfleetv1.ProgramKinds {
		kinds = append(kinds, HeldKind{Kind: k.Kind, NewList: k.NewList})
	}
	held := map[string]HeldKind{}
	var err error
	for _, k := range kinds {
		m, merr := mapper.RESTMapping(bpfleetv1.GroupVersion.WithKind(k.Kind).GroupKind(), bpfleetv1.GroupVersion.Version)
		if merr != nil {
			err = errors.Join(err, fmt.Errorf("the resource of %s: %w", k.Kind, merr))
			continue
		}
		held[m.Resource.GroupResource().String()] = k
	}
	return held, err
}

// crdOf is the name of kind's CRD in held.
func crdOf(held map[string]HeldKind, kind string) string {
	for crd, k := range held {
		if k.Kind == kind {
			return crd
		}
	}
	return ""
}

// DeletedKinds are the CRDs seen being deleted (see UninstallReconciler).
type DeletedKinds struct{ m sync.Map }

func (d *DeletedKinds) set(crd string, deleting bool) {
	if deleting {
		d.m.Store(crd, true)
	} else {
		d.m.Delete(crd)
	}
}

// Has reports whether the CRD named crd is being deleted.
func (d *DeletedKinds) Has(crd string) bool {
	_, ok := d.m.Load(crd)
	return ok
}
