package nodesync

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The agent's scheme knows what it reads and writes, and no other group:
// every group registered is memory the agent holds for nothing.
func TestSchemeHoldsOnlyWhatTheAgentReads(t *testing.T) {
	s := Scheme()
	for _, obj := range []client.Object{
		&bpfleetv1.NodeProgramSet{}, &bpfleetv1.NodeProgramReport{}, &bpfleetv1.MapPolicy{},
		&corev1.Secret{}, &coordinationv1.Lease{},
	} {
		if _, _, err := s.ObjectKinds(obj); err != nil {
			t.Errorf("the agent's scheme cannot encode %T: %v", obj, err)
		}
	}
	if s.IsGroupRegistered(appsv1.GroupName) {
		t.Error("the agent's scheme registers apps, which the agent never reads")
	}
}

// The agent's cache holds its node's set without managedFields, which it
// never reads (one entry per writer, kept for every object it caches).
func TestCacheStripsManagedFields(t *testing.T) {
	plane := startPlane(t)
	const node = "strip-node"
	mgr, err := newManager(plane.Config, Scheme(), Options{NodeName: node, MetricsAddr: "0", InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = mgr.Start(ctx) }()
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: node}}
	if err := mgr.GetClient().Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	if len(set.ManagedFields) == 0 {
		t.Fatal("the API server wrote no managedFields: nothing to check")
	}
	cached := objectMeta("NodeProgramSet", node) // what the agent caches
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return mgr.GetCache().Get(ctx, types.NamespacedName{Name: node}, cached) == nil, nil
	})
	if err != nil {
		t.Fatal("the node's set never reached the agent's cache")
	}
	if len(cached.ManagedFields) != 0 {
		t.Errorf("the agent's cache holds the set's managedFields: %+v", cached.ManagedFields)
	}
}
