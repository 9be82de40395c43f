package nodereport

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/jsonpatch"
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

// LeaseClient reaches the API server's Leases: a kubernetes.Interface, or
// Leases alone (see LeasesOnly), which keeps the other groups' clients out
// of a binary that needs none of them.
type LeaseClient interface {
	CoordinationV1() coordinationv1client.CoordinationV1Interface
}

// LeasesOnly is a LeaseClient of the coordination group's client alone.
type LeasesOnly struct {
	coordinationv1client.CoordinationV1Interface
}

// CoordinationV1 is the coordination group's client.
func (c LeasesOnly) CoordinationV1() coordinationv1client.CoordinationV1Interface {
	return c.CoordinationV1Interface
}

// leaseClientset is the kubernetes.Interface the lease controller takes,
// of which it calls CoordinationV1 only.
type leaseClientset struct {
	kubernetes.Interface
	leases LeaseClient
}

func (c leaseClientset) CoordinationV1() coordinationv1client.CoordinationV1Interface {
	return c.leases.CoordinationV1()
}

// Heartbeat renews node's Lease in namespace until ctx ends. alive says,
// before each renewal, which set owns the Lease (so that it goes with the
// node's set), or why the agent must not say it is alive: then the Lease
// is left to expire.
func Heartbeat(ctx context.Context, cs LeaseClient, namespace, node string, alive func() (types.UID, error)) {
	mark := func(l *coordinationv1.Lease) error {
		uid, err := alive()
		if err != nil {
			return err
		}
		metav1.SetMetaDataLabel(&l.ObjectMeta, bpfleetv1.AgentLeaseLabel, node)
		l.OwnerReferences = leaseOwners(node, uid)
		return nil
	}
	c := lease.NewController(clock.RealClock{}, leaseClientset{leases: cs}, node, int32(LeaseDuration/time.Second), nil,
		leaseRenew, node, namespace, mark)
	c.Run(klog.NewContext(ctx, ctrl.Log.WithName("heartbeat").WithValues("node", node)))
}

// leaseOwners are the owner references of node's Lease: its set, at uid.
func leaseOwners(node string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{
		APIVersion: bpfleetv1.GroupVersion.String(), Kind: "NodeProgramSet", Name: node, UID: uid,
	}}
}

// OwnLease gives node's Lease in namespace to its set at uid now, rather
// than at the next renewal: a set made anew would otherwise leave the
// Lease owned by the set that is gone for up to a renewal period. A Lease
// not made yet is left to Heartbeat.
func OwnLease(ctx context.Context, c client.Client, namespace, node string, uid types.UID) error {
	patch, err := jsonpatch.Patch(jsonpatch.Add("/metadata/ownerReferences", leaseOwners(node, uid)))
	if err != nil {
		return err
	}
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: namespace}}
	if err := c.Patch(ctx, l, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("lease %s/%s: %w", namespace, node, err)
	}
	return nil
}

// releaseTimeout bounds ReleaseLease, which runs as the agent stops.
const releaseTimeout = 5 * time.Second

// ReleaseLease deletes node's Lease in namespace, as a stopping agent does:
// the operator then knows at once that the agent is gone.
func ReleaseLease(cs LeaseClient, namespace, node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	err := cs.CoordinationV1().Leases(namespace).Delete(ctx, node, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release lease %s/%s: %w", namespace, node, err)
	}
	return nil
}
