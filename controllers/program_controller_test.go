package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

func TestStatusAggregatesNodeReports(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "aggregate"}
	createNode(t, "agg-1", sel)
	createNode(t, "agg-2", sel)
	createNode(t, "agg-other", map[string]string{"test": "other"})
	p := pathProgram("aggregate", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "agg-1", p)
	waitScheduled(t, "agg-2", p)
	if s, err := getSet("agg-other"); err == nil && len(s.Spec.Programs) > 0 {
		t.Fatalf("program scheduled on a node its selector does not match: %+v", s.Spec.Programs)
	}

	report(t, "agg-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady, ProgramID: 7, Objects: bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{{Target: "main", LinkID: 8}}}})
	eventually(t, "nodes 1/2 while agg-2 is in progress", func() (bool, error) {
		got := getProgram(t, p.Name)
		c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReconciling)
		return got.Status.Nodes.Summary == "1/2" && c != nil && c.Status == metav1.ConditionTrue, nil
	})

	report(t, "agg-2", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	got := waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)
	if got.Status.Nodes.Summary != "2/2" || got.Status.Nodes.Ready != 2 {
		t.Errorf("nodes = %+v, want 2/2 ready", got.Status.Nodes)
	}

	report(t, "agg-2", p, &bpfleetv1.NodeProgramStatus{
		State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonVerifierRejected, Terminal: true,
		Message: "load count_openat: permission denied", VerifierLog: "R1 invalid mem access 'scalar'",
	})
	got = waitCondition(t, p.Name, bpfleetv1.ConditionStalled, metav1.ConditionTrue, bpfleetv1.ReasonVerifierRejected)
	if len(got.Status.Failures) != 1 || got.Status.Failures[0].Node != "agg-2" ||
		!strings.Contains(got.Status.Failures[0].VerifierLog, "invalid mem access") {
		t.Errorf("failures = %+v, want agg-2 with the verifier log", got.Status.Failures)
	}
	waitEvent(t, p, bpfleetv1.ReasonVerifierRejected)
}

func waitEvent(t *testing.T, p *bpfleetv1.TracepointProgram, reason string) {
	t.Helper()
	waitEventOn(t, p.UID, reason)
}

// waitEventOn waits for an Event with reason about the object uid.
func waitEventOn(t *testing.T, uid types.UID, reason string) {
	t.Helper()
	eventually(t, "event "+reason, func() (bool, error) {
		var evs eventsv1.EventList
		if err := k8s.List(context.Background(), &evs); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.UID == uid && e.Reason == reason {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestNoSelectedNodeIsReady(t *testing.T) {
	p := pathProgram("nowhere", map[string]string{"test": "no-such-node"})
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonNoNodesSelected)
	if got.Status.Nodes.Summary != "0/0" {
		t.Errorf("nodes = %q, want 0/0", got.Status.Nodes.Summary)
	}
}

func TestDeleteWaitsForEveryNode(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "finalize"}
	createNode(t, "fin-1", sel)
	p := pathProgram("finalize", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "fin-1", p)
	report(t, "fin-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)

	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "program removed from fin-1's spec", func() (bool, error) {
		s, err := getSet("fin-1")
		return err == nil && len(s.Spec.Programs) == 0, err
	})
	if p2 := getProgram(t, p.Name); p2.DeletionTimestamp.IsZero() {
		t.Fatal("program is not being deleted")
	}
	eventually(t, "Ready=False/Deleting while fin-1 unloads", func() (bool, error) {
		c := meta.FindStatusCondition(getProgram(t, p.Name).Status.Conditions, bpfleetv1.ConditionReady)
		return c != nil && c.Reason == bpfleetv1.ReasonDeleting && c.Message == "unloading from 1 nodes", nil
	})
	report(t, "fin-1", p, nil) // the agent unloaded it
	waitGone(t, p.Name)
}

// A Node object deleted under a host whose agent holds a live Lease keeps
// its set (the host enforces it: issue 14), minus the programs deleted
// since: deleting a program is never blocked by a Node that is gone; the
// set goes once the agent releases its Lease.
func TestDeletedNodeNeverBlocksDeletion(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "node-gone"}
	createNode(t, "gone-1", sel)
	p := pathProgram("node-gone", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "gone-1", p)
	report(t, "gone-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)

	lease := liveLease(t, "gone-1")
	if err := k8s.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone-1"}}); err != nil {
		t.Fatal(err)
	}
	// The operator answers a Node's deletion at once; give it a moment.
	time.Sleep(time.Second)
	set, err := getSet("gone-1")
	if err != nil || len(set.Spec.Programs) != 1 || set.Spec.Programs[0].UID != p.UID {
		t.Fatalf("set of a deleted Node whose agent reports: %v, %+v; want it kept with its program", err, set.Spec)
	}
	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted program to leave gone-1's set", func() (bool, error) {
		set, err := getSet("gone-1")
		return err == nil && len(set.Spec.Programs) == 0, err
	})
	report(t, "gone-1", p, nil) // the agent unloaded it
	waitGone(t, p.Name)

	// The agent stops and releases its Lease: the set goes.
	if err := k8s.Delete(ctx, lease); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gone-1's set deleted once its agent released its Lease", func() (bool, error) {
		_, err := getSet("gone-1")
		return apierrors.IsNotFound(err), nil
	})
}

// liveLease makes node's agent Lease, renewed now.
func liveLease(t *testing.T, node string) *coordinationv1.Lease {
	t.Helper()
	seconds := int32(180)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: controlplane.Namespace,
			Labels: map[string]string{bpfleetv1.AgentLeaseLabel: node}},
		Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &seconds, RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	if err := k8s.Create(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	return lease
}

func TestTagResolvedOnceToDigest(t *testing.T) {
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/counter:v1"
	digest := pushCounter(t, ref)
	p, np := imageScheduledOn(t, "digest", ref, "digest-1")
	if want := host + "/bpfleet/counter@" + digest; np.Image != want {
		t.Errorf("node spec image = %q, want %q", np.Image, want)
	}
	// The status says it too, once written: a reconcile that asks the
	// nodes leaves its status write to the next one (ahead.go).
	eventually(t, "status image digest "+digest, func() (bool, error) {
		got := getProgram(t, p.Name)
		return got.Status.Image != nil && got.Status.Image.Digest == digest, nil
	})
}

func TestUnresolvableImageReportsAndRetries(t *testing.T) {
	sel := map[string]string{"test": "unresolvable"}
	p := pathProgram("unresolvable", sel)
	p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: "127.0.0.1:1/bpfleet/none:v1"}}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, p.Name, bpfleetv1.ConditionReconciling, metav1.ConditionTrue, bpfleetv1.ReasonResolveFailed)
}

// A program whose image the registry does not hold is Stalled with
// ImageNotFound (kstatus: Failed), not Reconciling; once the image is
// pushed, the slow retry of terminal errors picks it up with no change of
// spec.
func TestMissingImageStallsUntilPushed(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/late:v1"
	sel := map[string]string{"test": "late-image"}
	createNode(t, "late-1", sel)
	p := pathProgram("late-image", sel)
	p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, p.Name, bpfleetv1.ConditionStalled, metav1.ConditionTrue, bpfleetv1.ReasonImageNotFound)
	if c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %+v, want False", c)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReconciling); c != nil {
		t.Errorf("Reconciling = %+v, want none (False)", c)
	}
	waitEvent(t, got, bpfleetv1.ReasonImageNotFound)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(bpfleetv1.GroupVersion.WithKind("TracepointProgram"))
	u.SetName(p.Name)
	wantKstatus(t, u, status.FailedStatus)

	digest := pushCounter(t, ref)
	np := waitScheduled(t, "late-1", p)
	if want := host + "/bpfleet/late@" + digest; np.Image != want {
		t.Errorf("node spec image = %q, want %q", np.Image, want)
	}
	waitConditionGone(t, p.Name, bpfleetv1.ConditionStalled)
}

// pushCounter pushes the tracepoint counter's image as ref and returns its
// digest.
func pushCounter(t *testing.T, ref string) string {
	t.Helper()
	digest, err := oci.Push(context.Background(), ref, oci.Bytecode{
		FileName: "tracepoint_counter.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

func waitGone(t *testing.T, name string) {
	t.Helper()
	eventually(t, name+" deleted", func() (bool, error) {
		var p bpfleetv1.TracepointProgram
		err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, &p)
		return apierrors.IsNotFound(err), nil
	})
}

// A node whose agent went silent does not hold a deleted program forever.
func TestSilentAgentDoesNotBlockDeletion(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "silent"}
	createNode(t, "silent-1", sel)
	p := pathProgram("silent", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "silent-1", p)
	report(t, "silent-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)

	silence(t, "silent-1")
	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitGone(t, p.Name)
}

// A node whose agent's Lease expired is pending; the agent renewing its
// Lease brings the node back at once, not at the operator's next periodic
// look.
func TestAgentBackOnItsLease(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "lease"}
	createNode(t, "lease-1", sel)
	p := pathProgram("leased", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "lease-1", p)
	report(t, "lease-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)

	seconds := int32(180)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "lease-1", Namespace: controlplane.Namespace,
			Labels: map[string]string{bpfleetv1.AgentLeaseLabel: "lease-1"}},
		Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &seconds,
			RenewTime: &metav1.MicroTime{Time: time.Now().Add(-10 * time.Minute)}},
	}
	if err := k8s.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	silence(t, "lease-1")
	eventually(t, "the silent node pending", func() (bool, error) {
		return getProgram(t, p.Name).Status.Nodes.Ready == 0, nil
	})

	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	if err := k8s.Update(ctx, lease); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, p.Name, bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)
}

// silence makes node's agent look silent: its last report ten minutes ago.
func silence(t *testing.T, node string) {
	t.Helper()
	writeReport(t, node, func(rs *bpfleetv1.NodeProgramReportStatus) {
		long := metav1.NewTime(time.Now().Add(-10 * time.Minute))
		rs.LastSync = &long
	})
}

// A set made without a spec (by hand, say) gets its programs: its spec
// defaults to {}, which the operator's JSON patch adds them to.
func TestSetWithoutSpecScheduled(t *testing.T) {
	bare := &unstructured.Unstructured{Object: map[string]any{"apiVersion": bpfleetv1.GroupVersion.String(), "kind": "NodeProgramSet",
		"metadata": map[string]any{"name": "bare-1"}}}
	if err := k8s.Create(context.Background(), bare); err != nil {
		t.Fatal(err)
	}
	sel := map[string]string{"test": "bare"}
	createNode(t, "bare-1", sel)
	p := pathProgram("bare", sel)
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "bare-1", p)
}

// A report's entries are not checked by the API server (each is one JSON
// string): an agent's entry that does not decode shows on the program as
// a failure on that node, saying why, and the other reports are still
// read.
func TestBrokenReportEntryIsANodeFailure(t *testing.T) {
	ctx := context.Background()
	p := scheduledOn(t, "broken-report", "broken-1", "broken-2")
	report(t, "broken-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	report(t, "broken-2", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StatePending})
	broken, _ := json.Marshal(fmt.Sprintf(`{"uid":%q,"generation":%d,"state":7}`, p.UID, p.Generation))
	edit := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/status/programs/0","value":`+string(broken)+`}]`))
	r := &bpfleetv1.NodeProgramReport{}
	r.Name = "broken-2"
	if err := k8s.Patch(ctx, r, edit); err != nil {
		t.Fatalf("write a broken report entry: %v", err)
	}
	eventually(t, "broken-2 failed with InvalidReport, broken-1 ready", func() (bool, error) {
		got := getProgram(t, p.Name)
		for _, f := range got.Status.Failures {
			if f.Node == "broken-2" && f.Reason == bpfleetv1.ReasonInvalidReport && strings.Contains(f.Message, "does not decode") {
				return got.Status.Nodes.Ready == 1, nil
			}
		}
		return false, nil
	})
}

// The operator's cache holds reports without what only the node's users
// read (program IDs, pin paths, links, maps) and without managed fields:
// at 5,000 nodes × 100 programs those were most of its memory.
func TestCacheHoldsReportsTrimmed(t *testing.T) {
	ctx := context.Background()
	p := scheduledOn(t, "trimmed", "trim-1")
	report(t, "trim-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady, ProgramID: 7, PinPath: "/sys/fs/bpf/bpfleet/x",
		Objects: bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{{Target: "main", LinkID: 8}}}})
	var cached bpfleetv1.NodeProgramReport
	eventually(t, "the operator's cache holds trim-1's report", func() (bool, error) {
		err := mgr.GetCache().Get(ctx, types.NamespacedName{Name: "trim-1"}, &cached)
		return err == nil && len(cached.Status.Programs) == 1, client.IgnoreNotFound(err)
	})
	e := cached.Status.Programs[0]
	if e.State != bpfleetv1.StateReady || e.UID != p.UID {
		t.Errorf("cached entry %+v, want %s Ready", e, p.UID)
	}
	if e.ProgramID != 0 || e.PinPath != "" || len(e.Objects.Links) > 0 || len(cached.ManagedFields) > 0 {
		t.Errorf("cached report holds what the operator never reads: entry %+v, managed fields %d", e, len(cached.ManagedFields))
	}
}
