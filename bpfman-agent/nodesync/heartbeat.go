package nodesync

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The agent says it is alive by renewing a Lease, as the kubelet does for
// its node: a write of a few hundred bytes, where rewriting its whole
// status (every program's entry) once a minute cost the API server half
// its CPU at 1,000 nodes × 100 programs (docs/benchmarks.md).
const (
	// LeaseDuration is how long the operator waits on a beat before it
	// counts the agent silent.
	LeaseDuration = 3 * time.Minute
	// leaseRenew leaves room for three missed beats.
	leaseRenew = LeaseDuration / 4
)

// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=bpfleet-system,resources=leases,verbs=get;create;update

// Heartbeat renews node's Lease in namespace until ctx ends. The Lease is
// owned by the node's set, so it goes when the node does.
func Heartbeat(ctx context.Context, cs kubernetes.Interface, namespace string, set *bpfleetv1.NodeProgramSet) {
	owner := metav1.OwnerReference{
		APIVersion: bpfleetv1.GroupVersion.String(), Kind: "NodeProgramSet", Name: set.Name, UID: set.UID,
	}
	mark := func(l *coordinationv1.Lease) error {
		metav1.SetMetaDataLabel(&l.ObjectMeta, bpfleetv1.AgentLeaseLabel, set.Name)
		l.OwnerReferences = []metav1.OwnerReference{owner}
		return nil
	}
	c := lease.NewController(clock.RealClock{}, cs, set.Name, int32(LeaseDuration/time.Second), nil,
		leaseRenew, set.Name, namespace, mark)
	c.Run(klog.NewContext(ctx, ctrl.Log.WithName("heartbeat").WithValues("node", set.Name)))
}
