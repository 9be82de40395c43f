package node

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// kube-controller-manager's garbage collector removes what a node's set
// owns, its report and its Lease, once the set is deleted (envtest runs no
// garbage collector; a real cluster does).
func TestGarbageCollectorRemovesWhatASetOwns(t *testing.T) {
	ctx := context.Background()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "gone-node"}}
	if err := k.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	if err := nodereport.WriteReport(ctx, k, set, &bpfleetv1.NodeProgramReport{}); err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: set.Name,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: bpfleetv1.GroupVersion.String(), Kind: "NodeProgramSet", Name: set.Name, UID: set.UID}}}}
	if err := k.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	// The operator may delete it first: no Node has its name.
	if err := k.Delete(ctx, set); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: set.Name}}, lease} {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			return apierrors.IsNotFound(k.Get(ctx, client.ObjectKeyFromObject(o), o)), nil
		})
		if err != nil {
			t.Errorf("%T %s still there a minute after its set was deleted", o, o.GetName())
		}
	}
}

// A Node deleted (by an admin, or a cloud controller that lost track of
// its machine) and registered again by its kubelet: what the node runs
// stays loaded all along, the same program and links, and the program is
// Ready again once the node is back.
func TestNodeDeletedAndRegisteredAgainKeepsPrograms(t *testing.T) {
	ctx := context.Background()
	p := applySample(t, "node-gone-counter")
	t.Cleanup(func() { _, _ = install.Kubectl("delete", "tracepointprogram/"+p.Name, "--timeout=1m") })
	before := reportEntry(t, p.UID)
	t.Cleanup(func() {
		if t.Failed() { // the tests that follow need the node back
			_ = install.RestartKubelet(ctx)
			_ = install.WaitInstalled(ctx)
		}
	})

	if out, err := install.Kubectl("delete", "node", NodeName); err != nil {
		t.Fatalf("kubectl delete node: %v\n%s", err, out)
	}
	// Once the operator counts the node gone and the agent reported on
	// its set as it is now (had the operator changed it), what runs on
	// the node is what would ever run there without its Node.
	seen := func(ctx context.Context) (bool, error) {
		var got bpfleetv1.TracepointProgram
		var now bpfleetv1.NodeProgramSet
		var report bpfleetv1.NodeProgramReport
		if k8sGet(ctx, p.Name, &got) != nil || k8sGet(ctx, NodeName, &now) != nil || k8sGet(ctx, NodeName, &report) != nil {
			return false, nil
		}
		return got.Status.Nodes.Selected == 0 && report.Status.SetGeneration == now.Generation, nil
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, seen); err != nil {
		t.Fatalf("the operator never counted the deleted Node out, or the agent never reported on its set: %v", err)
	}
	sameObjects(t, "with the Node deleted", before, reportEntry(t, p.UID))

	if err := install.RestartKubelet(ctx); err != nil {
		t.Fatalf("the kubelet registering its node again: %v", err)
	}
	if out, err := install.Kubectl("rollout", "status", "-n", Namespace, "daemonset/"+Agent, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, out)
	}
	if out, err := install.Kubectl("wait", "--for=condition=Ready", "tracepointprogram/"+p.Name, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, out)
	}
	sameObjects(t, "with the Node registered again", before, reportEntry(t, p.UID))
	// The tests after this one find bpfleet as they expect it.
	if err := install.WaitInstalled(ctx); err != nil {
		t.Fatal(err)
	}
	var got bpfleetv1.TracepointProgram
	if err := k8sGet(ctx, p.Name, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Nodes.Ready != 1 {
		t.Errorf("with the Node back, the program counts %+v, want 1 ready", got.Status.Nodes)
	}
}

// k8sGet reads the cluster-scoped object name.
func k8sGet(ctx context.Context, name string, o client.Object) error {
	k, err := install.Client()
	if err != nil {
		return err
	}
	return k.Get(ctx, types.NamespacedName{Name: name}, o)
}
