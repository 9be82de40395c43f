package e2e

import (
	"context"
	"fmt"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// The agent says it is alive by renewing its node's Lease, owned by its
// node's set; its report is written only when what it reports changes: a
// restarted agent that adopts what runs writes none.
func TestAgentBeatsOnItsLease(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	p := counter("beating", s.Example, nil)
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Client, p.Name)
	var set bpfleetv1.NodeProgramSet
	if err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &set); err != nil {
		t.Fatal(err)
	}
	var report bpfleetv1.NodeProgramReport
	if err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &report); err != nil {
		t.Fatal(err)
	}
	lease := agentLease(t, s.Client)
	if lease.Labels[bpfleetv1.AgentLeaseLabel] != node || len(lease.OwnerReferences) != 1 ||
		lease.OwnerReferences[0].UID != set.UID || *lease.Spec.LeaseDurationSeconds != int32(nodereport.LeaseDuration.Seconds()) {
		t.Errorf("Lease %s: labels %v, owners %+v, duration %v: want labelled with and owned by its node's set, %v",
			lease.Name, lease.Labels, lease.OwnerReferences, *lease.Spec.LeaseDurationSeconds, nodereport.LeaseDuration)
	}

	passes := func() float64 {
		return metricValue(t, "controller_runtime_reconcile_total", map[string]string{"controller": "nodesync"})
	}
	before := passes()
	if err := s.RestartAgent(); err != nil {
		t.Fatal(err)
	}
	poll(t, "the restarted agent to renew its Lease and make a pass", func(ctx context.Context) bool {
		cur := agentLease(t, s.Client)
		return cur.Spec.RenewTime.After(lease.Spec.RenewTime.Time) && passes() > before
	}, func() string { return fmt.Sprintf("%v passes", passes()-before) })
	var after bpfleetv1.NodeProgramReport
	if err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != report.ResourceVersion {
		t.Errorf("the restarted agent rewrote its report though nothing changed:\nbefore %+v\nafter  %+v", report.Status, after.Status)
	}
	if err := s.Client.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.Client, p.Name)
}

// agentLease waits for the test node's Lease and returns it.
func agentLease(t *testing.T, c client.Client) coordinationv1.Lease {
	t.Helper()
	var lease coordinationv1.Lease
	key := types.NamespacedName{Namespace: controlplane.Namespace, Name: node}
	poll(t, "the agent's Lease", func(ctx context.Context) bool {
		return c.Get(ctx, key, &lease) == nil && lease.Spec.RenewTime != nil
	}, func() string { return "no Lease " + key.String() })
	return lease
}

// A report deleted by hand comes back at once, owned by the node's set,
// with what runs: the agent watches its own report for that.
func TestDeletedReportComesBack(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	p := counter("reported", s.Example, nil)
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Client, p.Name)
	running := nodeEntry(t, s.Client, p.UID)
	if err := s.Client.Delete(ctx, &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	var set bpfleetv1.NodeProgramSet
	if err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &set); err != nil {
		t.Fatal(err)
	}
	var report bpfleetv1.NodeProgramReport
	poll(t, "the agent to write its report again", func(ctx context.Context) bool {
		return s.Client.Get(ctx, types.NamespacedName{Name: node}, &report) == nil
	}, func() string { return "no report " + node })
	if !metav1.IsControlledBy(&report, &set) {
		t.Errorf("report owned by %+v, want by its node's set %s", report.OwnerReferences, set.UID)
	}
	if again := nodeEntry(t, s.Client, p.UID); again.State != bpfleetv1.StateReady || again.ProgramID != running.ProgramID {
		t.Errorf("report after its deletion: %+v, want the program Ready with ID %d, as before", again, running.ProgramID)
	}
	if err := s.Client.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.Client, p.Name)
}
