package bpf_test

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkFlowmeterLoadAttach measures the raw cilium/ebpf load+attach of
// the flow meter's collection (flow_ingress and flow_egress on a veth,
// count_drops on skb/kfree_skb: parse, load, attach), against the same for
// the one-program tracepoint counter in the same run: the kernel's cost of
// an application over a single program, and the baseline of an
// application's create → Ready. The kernel's BTF, which count_drops'
// CO-RE relocation reads, is parsed once, before (the agent's loader keeps
// it too). flows-map-ms/op is the part of it that
// creating the flow hash alone takes (the kernel preallocates an LRU
// hash's 65536 entries).
func BenchmarkFlowmeterLoadAttach(b *testing.B) {
	testkernel.Require(b)
	host, _, _, _ := testkernel.VethPair(b)
	spec, err := testkernel.FlowmeterSpec()
	if err != nil {
		b.Fatal(err)
	}
	testkernel.TimeFlowmeter(b, host, "count_drops") // parses the kernel's BTF
	var app, single, flows time.Duration
	for b.Loop() {
		app += testkernel.TimeFlowmeter(b, host, "flow_ingress", "flow_egress", "count_drops")
		single += testkernel.TimeTracepointCounter(b)
		flows += timeMap(b, spec.Maps["flows"])
	}
	n := float64(b.N)
	b.ReportMetric(float64(app.Microseconds())/1000/n, "flowmeter-ms/op")
	b.ReportMetric(float64(single.Microseconds())/1000/n, "single-ms/op")
	b.ReportMetric(float64(app)/float64(single), "flowmeter/single")
	b.ReportMetric(float64(flows.Microseconds())/1000/n, "flows-map-ms/op")
}

// timeMap creates a map of spec, returns how long that took, and closes it.
func timeMap(b *testing.B, spec *ebpf.MapSpec) time.Duration {
	start := time.Now()
	m, err := ebpf.NewMap(spec)
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	m.Close()
	return elapsed
}
