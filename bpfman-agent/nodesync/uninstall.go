package nodesync

import (
	"context"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch,resourceNames=nodeprogramsets.bpfleet.io

// crdMeta is the metadata of CRD name, as the agent's cache holds it.
func crdMeta(name string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	m.Name = name
	return m
}

// uninstalled is the handler of the sets' CRD: once it is being deleted
// (or gone), the agent unloads everything it runs, at once. It does not
// wait to be told by its set or by the operator: an install deleted all at
// once takes the agents, the operator and their access with it within
// milliseconds, and a watch already open still brings the CRD's deletion
// (see README, "Uninstall"). It only acts on that positive evidence: a
// CRD it cannot read, or never saw, unloads nothing.
func (r *Reconciler) uninstalled(node string) handler.TypedEventHandler[client.Object, reconcile.Request] {
	mark := func(deleting bool, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if deleting && !r.uninstalling.Swap(true) {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: node}})
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			mark(!e.Object.GetDeletionTimestamp().IsZero(), q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			mark(!e.ObjectNew.GetDeletionTimestamp().IsZero(), q)
		},
		DeleteFunc: func(_ context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			mark(true, q)
		},
	}
}

// unloadAll is the pass of an agent whose install is being deleted:
// nothing of bpfleet stays in the kernel or under the pin root. It writes
// no report (the reports' CRD goes too) and leaves the image cache, which
// is not in the kernel, to the host.
func (r *Reconciler) unloadAll(ctx context.Context) (ctrl.Result, error) {
	if err := r.prune(nil); err != nil {
		return ctrl.Result{}, err // retried with backoff while the agent lives
	}
	if !r.unloaded.Swap(true) {
		ctrl.LoggerFrom(ctx).Info("bpfleet is being uninstalled (the CRD " + r.setCRD + " is deleted): unloaded every program")
	}
	return ctrl.Result{}, nil
}
