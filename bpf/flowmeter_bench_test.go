package bpf_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkFlowmeterLoadAttach measures the raw cilium/ebpf load+attach of
// the flow meter's collection (flow_ingress and flow_egress on a veth,
// count_drops on skb/kfree_skb: parse, load, attach), against the same for
// the one-program tracepoint counter in the same run: the kernel's cost of
// an application over a single program, and the baseline of an
// application's create → Ready.
func BenchmarkFlowmeterLoadAttach(b *testing.B) {
	testkernel.Require(b)
	host, _, _, _ := testkernel.VethPair(b)
	var app, single time.Duration
	for b.Loop() {
		app += testkernel.TimeFlowmeter(b, host, "flow_ingress", "flow_egress", "count_drops")
		single += timeTracepointCounter(b)
	}
	n := float64(b.N)
	b.ReportMetric(float64(app.Microseconds())/1000/n, "flowmeter-ms/op")
	b.ReportMetric(float64(single.Microseconds())/1000/n, "single-ms/op")
	b.ReportMetric(float64(app)/float64(single), "flowmeter/single")
}

// timeTracepointCounter parses, loads and attaches bpf.TracepointCounter,
// returns how long that took, and unloads it.
func timeTracepointCounter(b *testing.B) time.Duration {
	start := time.Now()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.TracepointCounter))
	if err != nil {
		b.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		b.Fatal(err)
	}
	defer coll.Close()
	l, err := link.Tracepoint("syscalls", "sys_enter_openat", coll.Programs["count_openat"], nil)
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	l.Close()
	return elapsed
}
