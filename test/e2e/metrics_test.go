package e2e

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The operator's metrics count programs by state; the agent's say what it
// did: loads, verifier rejections, image
// fetches, sync durations, and — for a program that asks — how often and
// how long it ran, counted by the kernel only while some program asks.
func TestMetrics(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	p := counter("metered", s.Example, nil)
	p.Spec.RunStats = true
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	metered := waitReady(t, s.Client, p.Name)
	if st := nodeEntry(t, s.Client, metered.UID); st.RunStats == nil || st.RunStats.ReadAt.IsZero() {
		t.Errorf("the node's report holds no run statistics of a program that asks for them: %+v", st)
	}
	plain := counter("unmetered", s.Example, nil)
	if err := s.Client.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	plainID := nodeEntry(t, s.Client, waitReady(t, s.Client, plain.Name).UID).ProgramID
	if !kernelCounts(t, plainID) {
		t.Error("the kernel does not count runs while a program asks for it")
	}
	run := map[string]string{"kind": "TracepointProgram", "program": p.Name}
	poll(t, "the program's run count to grow", func(context.Context) bool {
		_, _ = os.ReadFile("/proc/self/status") // openat: the counter runs
		return metricValue(t, "bpfleet_agent_program_run_count_total", run) > 0 &&
			metricValue(t, "bpfleet_agent_program_run_time_seconds_total", run) > 0
	}, func() string { return "no run statistics" })
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"bpfleet_agent_program_loads_total", map[string]string{"result": "loaded"}},
		{"bpfleet_agent_image_fetches_total", nil},
		{"controller_runtime_reconcile_time_seconds", map[string]string{"controller": "nodesync"}},
		{"bpfleet_agent_build_info", map[string]string{"goversion": runtime.Version()}},
		{"bpfleet_operator_build_info", map[string]string{"goversion": runtime.Version()}},
		// The operator's:
		{"bpfleet_programs", map[string]string{"kind": "TracepointProgram", "state": "ready"}},
		{"bpfleet_program_nodes", map[string]string{"program": p.Name, "state": "ready"}},
		{"bpfleet_program_rollout_progress", map[string]string{"program": p.Name}},
	} {
		if metricValue(t, m.name, m.labels) <= 0 {
			t.Errorf("%s%v: no data", m.name, m.labels)
		}
	}

	bad := rejected(t, "metered-rejected")
	if err := s.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	poll(t, "a verifier rejection counted", func(context.Context) bool {
		return metricValue(t, "bpfleet_agent_verifier_rejections_total", map[string]string{"program": bad.Name}) == 1 &&
			metricValue(t, "bpfleet_agent_program_load_failures_total", map[string]string{"reason": bpfleetv1.ReasonVerifierRejected}) >= 1
	}, func() string { return "no rejection counted" })

	for _, o := range []*bpfleetv1.TracepointProgram{p, bad} { // plain stays: its runs must stop counting
		if err := s.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
		waitGone(t, s.Client, o.Name)
	}
	poll(t, "kernel BPF stats off once no program asks", func(context.Context) bool { return !kernelCounts(t, plainID) },
		func() string { return "still counting" })
	poll(t, "the rejected program's series gone with it", func(context.Context) bool {
		return metricValue(t, "bpfleet_agent_verifier_rejections_total", map[string]string{"program": bad.Name}) == 0
	}, func() string { return "its series is still served" })
	if err := s.Client.Delete(ctx, plain); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.Client, plain.Name)
}

// kernelCounts reports whether the kernel counts the runs of program id
// now: its run count grows across openat calls.
func kernelCounts(t *testing.T, id uint32) bool {
	t.Helper()
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	before, err := prog.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, _ = os.ReadFile("/proc/self/status")
	}
	after, err := prog.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return after.RunCount > before.RunCount
}

// metricValue sums the samples (counter, gauge, or histogram count) of the
// series of name whose labels include labels, from this process's
// registry, where the stack's operator and agent serve theirs.
func metricValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
