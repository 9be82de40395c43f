package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// flowmeterPrograms are the flow meter's programs an application runs on
// the veth host end iface: TCX ingress and egress, and the drops
// tracepoint (its fentry program does not load on this kernel).
func flowmeterPrograms(iface string, names ...string) []bpfleetv1.ApplicationProgram {
	on := bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(iface)}}
	all := map[string]bpfleetv1.ApplicationProgram{
		"flow_ingress":   {Name: "flow_ingress", TCX: &bpfleetv1.TCXAttach{Interfaces: on, Direction: bpfleetv1.TCXIngress}},
		"flow_egress":    {Name: "flow_egress", TCX: &bpfleetv1.TCXAttach{Interfaces: on, Direction: bpfleetv1.TCXEgress}},
		"count_drops":    {Name: "count_drops", Tracepoint: &bpfleetv1.TracepointAttach{Name: "skb/kfree_skb"}},
		"count_consumed": {Name: "count_consumed", Tracepoint: &bpfleetv1.TracepointAttach{Name: "skb/consume_skb"}},
	}
	out := make([]bpfleetv1.ApplicationProgram, len(names))
	for i, n := range names {
		out[i] = all[n]
	}
	return out
}

// flowmeterApp is a ClusterBpfApplication of the flow meter's image.
func flowmeterApp(name, ref string, programs []bpfleetv1.ApplicationProgram) *bpfleetv1.ClusterBpfApplication {
	return &bpfleetv1.ClusterBpfApplication{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.ClusterBpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}}},
			Programs:      programs,
		},
	}
}

// BenchmarkApplicationCreateToReady measures, with a warm image cache, the
// time from creating the flow meter application (TCX ingress and egress on
// a veth, the drops tracepoint: one load of its object) to Ready=True, and
// the raw cilium/ebpf load and attach of the same programs in one
// collection, in the same run.
func BenchmarkApplicationCreateToReady(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	host, _, _, _ := testkernel.VethPair(b)
	names := []string{"flow_ingress", "flow_egress", "count_drops"}
	warm := flowmeterApp("bench-app-warm", s.Images["flowmeter"], flowmeterPrograms(host, names...))
	if err := s.Client.Create(ctx, warm); err != nil {
		b.Fatal(err)
	}
	waitProgram(b, s.Client, warm, "Ready=True", readyNow)
	if err := s.Client.Delete(ctx, warm); err != nil {
		b.Fatal(err)
	}
	waitAppGone(b, s.Client, warm.Name)
	var ready, raw time.Duration
	b.ResetTimer()
	for i := range b.N {
		app := flowmeterApp(fmt.Sprintf("bench-app-%d", i), s.Images["flowmeter"], flowmeterPrograms(host, names...))
		start := time.Now()
		if err := s.Client.Create(ctx, app); err != nil {
			b.Fatal(err)
		}
		waitProgram(b, s.Client, app, "Ready=True", readyNow)
		ready += time.Since(start)
		b.StopTimer()
		if err := s.Client.Delete(ctx, app); err != nil {
			b.Fatal(err)
		}
		waitAppGone(b, s.Client, app.Name)
		raw += testkernel.TimeFlowmeter(b, host, names...)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(ready.Microseconds())/1000/n, "ready-ms/op")
	b.ReportMetric(float64(raw.Microseconds())/1000/n, "raw-ms/op")
	b.ReportMetric(float64(ready)/float64(raw), "ready/raw")
}

// BenchmarkApplicationAddToLive measures adding a program to a running
// flow meter application (flow_egress beside flow_ingress and the drops
// tracepoint) until the node runs the new revision (Ready at the new
// generation), and removing it again, against the raw cilium/ebpf load and
// attach of the revision's programs in one collection.
func BenchmarkApplicationAddToLive(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	host, _, _, _ := testkernel.VethPair(b)
	base, more := []string{"flow_ingress", "count_drops"}, []string{"flow_ingress", "count_drops", "flow_egress"}
	app := flowmeterApp("bench-app-add", s.Images["flowmeter"], flowmeterPrograms(host, base...))
	if err := s.Client.Create(ctx, app); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.Client.Delete(context.Background(), app)
		waitAppGone(b, s.Client, app.Name)
	})
	waitProgram(b, s.Client, app, "Ready=True", readyNow)
	var live, raw time.Duration
	b.ResetTimer()
	for i := range b.N {
		names := more
		if i%2 == 1 {
			names = base
		}
		before := app.DeepCopy()
		app.Spec.Programs = flowmeterPrograms(host, names...)
		start := time.Now()
		if err := s.Client.Patch(ctx, app, client.MergeFrom(before)); err != nil {
			b.Fatal(err)
		}
		waitProgram(b, s.Client, app, "Ready=True", readyNow)
		live += time.Since(start)
		b.StopTimer()
		raw += testkernel.TimeFlowmeter(b, host, names...)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(live.Microseconds())/1000/n, "live-ms/op")
	b.ReportMetric(float64(raw.Microseconds())/1000/n, "raw-ms/op")
	b.ReportMetric(float64(live)/float64(raw), "live/raw")
}

// waitAppGone waits until the application named name is gone (unloaded
// from the node: its finalizer released).
func waitAppGone(tb testing.TB, c client.Client, name string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var app bpfleetv1.ClusterBpfApplication
		if err := c.Get(context.Background(), client.ObjectKey{Name: name}, &app); client.IgnoreNotFound(err) == nil && err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("application %s not gone after 60 s", name)
}
