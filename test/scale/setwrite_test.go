package scale

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/jsonpatch"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/scheme"
	"github.com/bpfleet/bpfleet/internal/testproc"
)

// BenchmarkSetWrite measures what one write of a node's objects costs the
// API server (its CPU time per write, from /proc), beside an agent's Lease
// renewal, for 100 programs and, as the baseline in the same run, none: the
// NodeProgramSet by JSON patch (what the operator does), merge patch and
// update,
// and the NodeProgramReport as the agent writes it (nodereport.WriteReport,
// with the kernel's capabilities).
// It is the unit cost behind BenchmarkScale.
func BenchmarkSetWrite(b *testing.B) {
	plane, err := controlplane.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = plane.Stop() })
	c, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		b.Fatal(err)
	}
	apiserver, _ := controlPlane(b, plane)
	b.Run("lease-renewal", func(b *testing.B) {
		seconds := int32(180)
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-0", Namespace: controlplane.Namespace},
			Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &seconds}}
		if err := c.Create(context.Background(), lease); err != nil {
			b.Fatal(err)
		}
		perWrite(b, apiserver, func(int) error {
			lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
			return c.Update(context.Background(), lease)
		})
	})
	b.Run("program-status", func(b *testing.B) {
		p := program(0)
		p.Name = "status-write"
		if err := c.Create(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		readyStatus(p)
		if err := c.Status().Update(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		perWrite(b, apiserver, func(i int) error {
			base := p.DeepCopy()
			p.Status.Conditions[0].Message = fmt.Sprintf("running on %d of 1 nodes", i%2)
			return c.Status().Patch(context.Background(), p, client.MergeFrom(base))
		})
	})
	for _, entries := range []int{0, 100} {
		set := fullSet(fmt.Sprintf("set-%d", entries), entries)
		if err := c.Create(context.Background(), set); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("spec-json-patch/programs=%d", entries), func(b *testing.B) {
			perWrite(b, apiserver, func(i int) error { return writeSpec(c, set, i, jsonPatch) })
		})
		b.Run(fmt.Sprintf("spec-merge-patch/programs=%d", entries), func(b *testing.B) {
			perWrite(b, apiserver, func(i int) error { return writeSpec(c, set, i, mergePatch) })
		})
		b.Run(fmt.Sprintf("spec-update/programs=%d", entries), func(b *testing.B) {
			perWrite(b, apiserver, func(i int) error {
				if len(set.Spec.Programs) > 0 {
					set.Spec.Programs[0].Generation = int64(i + 5000)
				} else {
					metav1.SetMetaDataLabel(&set.ObjectMeta, "put", fmt.Sprint(i))
				}
				return c.Update(context.Background(), set)
			})
		})
		report := &bpfleetv1.NodeProgramReport{Status: bpfleetv1.NodeProgramReportStatus{Programs: reports(set), Capabilities: capabilities()}}
		b.Run(fmt.Sprintf("report-write/programs=%d", entries), func(b *testing.B) {
			perWrite(b, apiserver, func(i int) error {
				report.Status.SetGeneration = int64(i + 1)
				return nodereport.WriteReport(context.Background(), c, set, report)
			})
		})
	}
}

// perWrite runs write b.N times and reports the API server's CPU per call.
func perWrite(b *testing.B, apiserver int, write func(int) error) {
	cpu0 := testproc.CPUOf(b, apiserver)
	for i := 0; b.Loop(); i++ {
		if err := write(i); err != nil {
			b.Fatal(err)
		}
	}
	cpu := testproc.CPUOf(b, apiserver) - cpu0
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "apiserver-ms/write")
}

// fullSet is a set of n programs as the operator writes it.
func fullSet(name string, n int) *bpfleetv1.NodeProgramSet {
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for i := range n {
		p := program(i)
		p.UID = types.UID(fmt.Sprintf("023914a0-8c19-4e1c-ab67-%012d", i))
		set.Spec.Programs = append(set.Spec.Programs, bpfleetv1.NodeProgram{
			UID: p.UID, Kind: "TracepointProgram", Name: p.Name, Generation: 1,
			Path: p.Spec.ByteCode.Path, ProgramName: p.Spec.ProgramName, Attach: p.AttachPoint(),
		})
	}
	return set
}

// writeSpec changes one program of set, or a label of an empty set (a
// write of the same fixed cost), by the patch made by how (from the
// changed set and its base).
func writeSpec(c client.Client, set *bpfleetv1.NodeProgramSet, i int, how func(set, base *bpfleetv1.NodeProgramSet) (client.Patch, error)) error {
	base := set.DeepCopy()
	if len(set.Spec.Programs) == 0 {
		metav1.SetMetaDataLabel(&set.ObjectMeta, "write", fmt.Sprint(i))
		return c.Patch(context.Background(), set, client.MergeFrom(base))
	}
	set.Spec.Programs[0].Generation = int64(i + 2)
	patch, err := how(set, base)
	if err != nil {
		return err
	}
	if patch.Type() == types.JSONPatchType { // as the operator sends it
		_, err := jsonpatch.Send(context.Background(), c, bpfleetv1.GroupVersion.WithKind("NodeProgramSet"), client.ObjectKeyFromObject(set), patch)
		return err
	}
	return c.Patch(context.Background(), set, patch)
}

// jsonPatch replaces the programs of the set's spec by a JSON patch, as the
// operator does (reading back the set's metadata only).
func jsonPatch(set, _ *bpfleetv1.NodeProgramSet) (client.Patch, error) {
	return jsonpatch.Patch(jsonpatch.Add("/spec/programs", set.Spec.Programs))
}

// mergePatch is the merge patch from base to set.
func mergePatch(_, base *bpfleetv1.NodeProgramSet) (client.Patch, error) {
	return client.MergeFrom(base), nil
}

// readyStatus gives p the status the operator writes once p runs on its
// one node: conditions, digest, node counts, the rollout.
func readyStatus(p *bpfleetv1.TracepointProgram) {
	now := metav1.Now()
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: "running on 1 of 1 nodes",
			ObservedGeneration: p.Generation, LastTransitionTime: now}
	}
	p.Status = bpfleetv1.ProgramStatus{
		ObservedGeneration: p.Generation,
		// Reconciling and Stalled are present only while True.
		Conditions: []metav1.Condition{cond(bpfleetv1.ConditionReady, metav1.ConditionTrue, bpfleetv1.ReasonReady)},
		Nodes:      bpfleetv1.NodeCounts{Selected: 1, Ready: 1, Summary: "1/1"},
		Rollout: &bpfleetv1.RolloutStatus{Generation: p.Generation, Released: bpfleetv1.ReleaseAll,
			StableGeneration: p.Generation, StableRevision: "tracepointprogram-" + p.Name + "-0123abcd-1",
			Generations: []bpfleetv1.GenerationNodes{{Generation: p.Generation, Updated: 1, Ready: 1}}},
	}
}

// capabilities are what an agent on this machine's kernel reports with
// every report: each hook, and why the missing ones are.
func capabilities() *bpfleetv1.NodeCapabilities {
	caps := &bpfleetv1.NodeCapabilities{KernelRelease: "6.18.44", BTF: true}
	for _, h := range []string{"Cgroup", "TCX", "Tracepoint", "Uprobe", "XDP"} {
		caps.Hooks = append(caps.Hooks, bpfleetv1.HookSupport{Name: h, Supported: true})
	}
	for _, h := range []string{"Fentry", "Fexit"} {
		caps.Hooks = append(caps.Hooks, bpfleetv1.HookSupport{Name: h, Reason: "loading " + strings.ToLower(h) + " programs fails: operation not permitted"})
	}
	caps.Hooks = append(caps.Hooks, bpfleetv1.HookSupport{Name: "Kprobe", Reason: "kernel lacks kprobes (no kprobe PMU, no kprobe_events in tracefs)"})
	return caps
}
