package metrics

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// Each program of an application has its own run statistics series,
// labelled with its function; a single program kind's series has no
// function (an empty label, which Prometheus stores as none): the series
// agents before applications published.
func TestRunStatsPerProgram(t *testing.T) {
	testkernel.Require(t)
	id := func() uint32 {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { prog.Close() })
		info, err := prog.Info()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := info.ID()
		return uint32(n)
	}
	var rs RunStats
	rs.Set([]Measured{
		{Kind: "TracepointProgram", Program: "single", ID: id()},
		{Kind: "ClusterBpfApplication", Program: "app", Function: "tc_ingress", ID: id()},
		{Kind: "ClusterBpfApplication", Program: "app", Function: "count_openat", ID: id()},
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&rs)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "bpfleet_agent_program_run_count_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + ","
			}
			got[labels] = true
		}
	}
	for _, want := range []string{
		"function=,kind=TracepointProgram,program=single,",
		"function=tc_ingress,kind=ClusterBpfApplication,program=app,",
		"function=count_openat,kind=ClusterBpfApplication,program=app,",
	} {
		if !got[want] {
			t.Errorf("no run count series %s; have %v", want, got)
		}
	}
}
