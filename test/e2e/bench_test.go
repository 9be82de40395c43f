package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkCreateToReady measures, in one run and with a warm image cache,
// the time from creating a TracepointProgram to Ready=True through the whole
// system, and the raw cilium/ebpf load+attach of the same object, and
// reports their ratio: what the control plane costs over the kernel work.
// Where the time goes is traced (tracer): each step's median, from the
// create, and how many writes of the program, the node's set and its
// report a create takes.
func BenchmarkCreateToReady(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	trace := traceChanges(b, s.Client, stepFinalizer, stepDigest, stepSet, stepReport, stepReady)
	warm := counter("bench-warm", s.Example, nil)
	if err := s.Client.Create(ctx, warm); err != nil {
		b.Fatal(err)
	}
	waitReady(b, s.Client, warm.Name)
	var ready, raw time.Duration
	b.ResetTimer()
	for i := range b.N {
		p := counter(fmt.Sprintf("bench-%d", i), s.Example, nil)
		start := time.Now()
		trace.begin(p.Name, 1, start)
		if err := s.Client.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		waitReady(b, s.Client, p.Name)
		ready += time.Since(start)
		trace.end(time.Now())
		raw += testkernel.TimeTracepointCounter(b)
		b.StopTimer()
		trace.writeOnce(b, s.Client)
		if err := s.Client.Delete(ctx, p); err != nil {
			b.Fatal(err)
		}
		waitGone(b, s.Client, p.Name)
		b.StartTimer()
	}
	b.StopTimer()
	_ = s.Client.Delete(ctx, warm)
	waitGone(b, s.Client, warm.Name)
	n := float64(b.N)
	b.ReportMetric(float64(ready.Microseconds())/1000/n, "ready-ms/op")
	b.ReportMetric(float64(raw.Microseconds())/1000/n, "raw-ms/op")
	b.ReportMetric(float64(ready)/float64(raw), "ready/raw")
	trace.report(b)
}

// BenchmarkUpdateToLive measures a spec change (globalData) on a running
// TracepointProgram until the node runs the new program (Ready at the new
// generation), against the raw cilium/ebpf load+attach of the same object.
// Its steps are traced as BenchmarkCreateToReady's.
func BenchmarkUpdateToLive(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	trace := traceChanges(b, s.Client, stepSet, stepReport, stepReady)
	p := counter("bench-update", s.Example, map[string]bpfleetv1.GlobalValue{"increment": "1"})
	if err := s.Client.Create(ctx, p); err != nil {
		b.Fatal(err)
	}
	p = waitReady(b, s.Client, p.Name)
	var live, raw time.Duration
	b.ResetTimer()
	for i := range b.N {
		base := p.DeepCopy()
		p.Spec.GlobalData["increment"] = bpfleetv1.GlobalValue(fmt.Sprint(i + 2))
		start := time.Now()
		trace.begin(p.Name, p.Generation+1, start)
		if err := s.Client.Patch(ctx, p, client.MergeFrom(base)); err != nil {
			b.Fatal(err)
		}
		p = waitReady(b, s.Client, p.Name)
		live += time.Since(start)
		trace.end(time.Now())
		raw += testkernel.TimeTracepointCounter(b)
		b.StopTimer()
		trace.writeOnce(b, s.Client)
		b.StartTimer()
	}
	b.StopTimer()
	_ = s.Client.Delete(ctx, p)
	waitGone(b, s.Client, p.Name)
	n := float64(b.N)
	b.ReportMetric(float64(live.Microseconds())/1000/n, "live-ms/op")
	b.ReportMetric(float64(raw.Microseconds())/1000/n, "raw-ms/op")
	b.ReportMetric(float64(live)/float64(raw), "live/raw")
	trace.report(b)
}
