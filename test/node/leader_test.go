package node

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// leaderLease is the operator's leader-election Lease.
const leaderLease = "bpfleet-operator.bpfleet.io"

// With two operator replicas, deleting the leader's pod hands the lead to
// another replica (the one that ran beside it, or the one the ReplicaSet
// starts instead) well within the lease: the leader steps down as it
// stops. The old leader never holds the Lease again, and the new one
// serves: a program created afterwards goes Ready.
func TestOperatorLeaderFailover(t *testing.T) {
	ctx := context.Background()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	scale := func(n string) {
		if out, err := install.Kubectl("scale", "-n", Namespace, "deployment/"+Operator, "--replicas="+n); err != nil {
			t.Fatalf("kubectl scale: %v\n%s", err, out)
		}
		if out, err := install.Kubectl("rollout", "status", "-n", Namespace, "deployment/"+Operator, "--timeout=2m"); err != nil {
			t.Fatalf("kubectl rollout status: %v\n%s", err, out)
		}
	}
	scale("2")
	t.Cleanup(func() { scale("1") })
	if pods := operatorPods(t, k); len(pods) != 2 {
		t.Fatalf("operator pods %v, want 2", pods)
	}
	leader := waitLeader(t, k, "")
	var lease coordinationv1.Lease
	if err := k.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: leaderLease}, &lease); err != nil {
		t.Fatal(err)
	}
	transitions := *lease.Spec.LeaseTransitions

	stop := watchHolders(k)
	start := time.Now()
	if out, err := install.Kubectl("delete", "pod", "-n", Namespace, leader, "--wait=false"); err != nil {
		t.Fatalf("kubectl delete pod: %v\n%s", err, out)
	}
	next := waitLeader(t, k, leader)
	took := time.Since(start)
	seen := stop()
	t.Logf("the lead passed from %s to %s in %v; the Lease named %q", leader, next, took.Round(time.Millisecond), seen)
	if d := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second; took > d {
		t.Errorf("the other replica led after %v, longer than the lease (%v)", took, d)
	}
	if err := k.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: leaderLease}, &lease); err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.LeaseTransitions != transitions+1 {
		t.Errorf("lease transitions %d, want %d", *lease.Spec.LeaseTransitions, transitions+1)
	}
	// One handoff: once the new leader held the Lease, the old one never
	// held it again.
	firstNew := slices.IndexFunc(seen, func(h string) bool { return strings.HasPrefix(h, next+"_") })
	if firstNew < 0 {
		t.Fatalf("the Lease never named %s while watched: %q", next, seen)
	}
	for _, h := range seen[firstNew:] {
		if strings.HasPrefix(h, leader+"_") {
			t.Errorf("the old leader held the Lease again after the new one: %q", seen)
		}
	}

	// The new leader serves.
	applySample(t, "failover-counter")
	_, _ = install.Kubectl("delete", "tracepointprogram/failover-counter", "--timeout=1m")
}

// operatorPods lists the operator's live pods.
func operatorPods(t *testing.T, k client.Client) []string {
	t.Helper()
	var pods corev1.PodList
	if err := k.List(context.Background(), &pods, client.InNamespace(Namespace), client.MatchingLabels{"app.kubernetes.io/component": "operator"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// waitLeader waits until the leader Lease names a live operator pod other
// than not (controller-runtime's identity is the pod's name, then "_" and
// a UUID), and returns it.
func waitLeader(t *testing.T, k client.Client, not string) string {
	t.Helper()
	var leader string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var lease coordinationv1.Lease
		if k.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: leaderLease}, &lease) != nil || lease.Spec.HolderIdentity == nil {
			return false, nil
		}
		pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
		leader = pod
		return pod != not && slices.Contains(operatorPods(t, k), pod), nil
	})
	if err != nil {
		t.Fatalf("no leader among the live operator pods other than %q: %v (last %q)", not, err, leader)
	}
	return leader
}

// watchHolders records the Lease's holders, as often as it can read
// them, until the returned stop is called; stop returns them in order.
func watchHolders(k client.Client) (stop func() []string) {
	var mu sync.Mutex
	var seen []string
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for last := false; !last; {
			select {
			case <-done:
				last = true // one more read: the change may be that recent
			case <-time.After(20 * time.Millisecond):
			}
			var lease coordinationv1.Lease
			if k.Get(context.Background(), types.NamespacedName{Namespace: Namespace, Name: leaderLease}, &lease) != nil {
				continue
			}
			h := ""
			if lease.Spec.HolderIdentity != nil {
				h = *lease.Spec.HolderIdentity
			}
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != h {
				seen = append(seen, h)
			}
			mu.Unlock()
		}
	}()
	return func() []string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}
