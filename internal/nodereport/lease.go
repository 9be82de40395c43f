package nodereport

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

// Heartbeat renews node's Lease in namespace until ctx ends. alive says,
// before each renewal, which set owns the Lease (so that it goes with the
// node's set), or why the agent must not say it is alive: then the Lease
// is left to expire.
func Heartbeat(ctx context.Context, cs kubernetes.Interface, namespace, node string, alive func() (types.UID, error)) {
	mark := func(l *coordinationv1.Lease) error {
		uid, err := alive()
		if err != nil {
			return err
		}
		metav1.SetMetaDataLabel(&l.ObjectMeta, bpfleetv1.AgentLeaseLabel, node)
		l.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: bpfleetv1.GroupVersion.String(), Kind: "NodeProgramSet", Name: node, UID: uid,
		}}
		return nil
	}
	c := lease.NewController(clock.RealClock{}, cs, node, int32(LeaseDuration/time.Second), nil,
		leaseRenew, node, namespace, mark)
	c.Run(klog.NewContext(ctx, ctrl.Log.WithName("heartbeat").WithValues("node", node)))
}
