package nodesync

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/pods"
)

// PodOptions configure how the agent finds the pods of its node, in which
// programs with pod targets (network namespaces, containers, cgroups of
// pods) attach.
type PodOptions struct {
	// RuntimeEndpoint is the node's CRI socket, e.g.
	// unix:///run/containerd/containerd.sock. "" (without Runtime): the
	// agent watches no pods, and pod targets wait.
	RuntimeEndpoint string
	// Runtime, if set, finds pods' processes instead of the CRI socket.
	Runtime pods.Runtime
}

func (o PodOptions) enabled() bool { return o.RuntimeEndpoint != "" || o.Runtime != nil }

// +kubebuilder:rbac:groups="",resources=pods;namespaces,verbs=get;list;watch

// podCache adds to cache options the agent's own node's pods, slimmed to
// what pod targets plan from, and the namespaces' metadata (their
// labels).
func podCache(byObject map[client.Object]cache.ByObject, o Options) {
	if !o.Pods.enabled() {
		return
	}
	byObject[&corev1.Pod{}] = cache.ByObject{
		Field: fields.OneTermEqualSelector("spec.nodeName", o.NodeName), Transform: slimPod,
	}
	byObject[namespaceMeta()] = cache.ByObject{}
}

func namespaceMeta() *metav1.PartialObjectMetadata {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return ns
}

// slimPod keeps of a pod what pod targets plan from: an agent caches
// every pod of its node, and a pod's spec and status are most of it.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{}
	out.Name, out.Namespace, out.UID, out.Labels = pod.Name, pod.Namespace, pod.UID, pod.Labels
	out.ResourceVersion = pod.ResourceVersion
	out.Spec.NodeName, out.Spec.HostNetwork = pod.Spec.NodeName, pod.Spec.HostNetwork
	out.Status.Phase = pod.Status.Phase
	for _, cs := range pod.Status.ContainerStatuses {
		slim := corev1.ContainerStatus{Name: cs.Name, ContainerID: cs.ContainerID}
		if cs.State.Running != nil {
			slim.State.Running = &corev1.ContainerStateRunning{}
		}
		out.Status.ContainerStatuses = append(out.Status.ContainerStatuses, slim)
	}
	return out, nil
}

// addPods makes the agent find its node's pods (r.Pods) and start a pass
// when one starts, stops, restarts a container or changes its labels, or
// a namespace its labels.
func addPods(mgr ctrl.Manager, r *Reconciler, o Options) error {
	if !o.Pods.enabled() {
		return nil
	}
	rt := o.Pods.Runtime
	if rt == nil {
		cri, err := pods.NewCRI(o.Pods.RuntimeEndpoint)
		if err != nil {
			return err
		}
		rt = cri
	}
	r.Pods = pods.NewSource(mgr.GetCache(), rt)
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		for _, obj := range []client.Object{&corev1.Pod{}, namespaceMeta()} {
			inf, err := mgr.GetCache().GetInformer(ctx, obj)
			if err != nil {
				return fmt.Errorf("watch %T: %w", obj, err)
			}
			if _, err := inf.AddEventHandler(pokeOnChange(r)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// pokeOnChange starts a pass on an added or deleted object, and on an
// update of what pod targets plan from (all a slim pod holds, or a
// namespace's labels).
func pokeOnChange(r *Reconciler) toolscache.ResourceEventHandlerFuncs {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.poke() },
		DeleteFunc: func(any) { r.poke() },
		UpdateFunc: func(old, cur any) {
			if changed(old, cur) {
				r.poke()
			}
		},
	}
}

// changed reports whether cur differs from old in what pod targets plan
// from: a slim pod's labels, spec and status (see slimPod), a namespace's
// labels. (Compared by value: each slimmed copy has pointers of its own.)
func changed(old, cur any) bool {
	switch o := old.(type) {
	case *corev1.Pod:
		c, ok := cur.(*corev1.Pod)
		return !ok || !equality.Semantic.DeepEqual(o.Labels, c.Labels) ||
			!equality.Semantic.DeepEqual(o.Spec, c.Spec) || !equality.Semantic.DeepEqual(o.Status, c.Status)
	case *metav1.PartialObjectMetadata:
		c, ok := cur.(*metav1.PartialObjectMetadata)
		return !ok || !equality.Semantic.DeepEqual(o.Labels, c.Labels)
	}
	return true
}

// podSource is what a pass's facts list the node's pods from: nil while
// the agent watches none.
func (r *Reconciler) podSource(ctx context.Context) attach.PodSource {
	if r.Pods == nil {
		return nil
	}
	return func(processes bool) ([]attach.Pod, error) { return r.Pods.Pods(ctx, processes) }
}
