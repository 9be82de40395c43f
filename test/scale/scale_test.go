package scale

import (
	"os"
	"sync"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// TestMain sends the simulated agents' logs (their Leases' renewals log
// only failures) to stderr.
func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	os.Exit(m.Run())
}

// A smoke run at 100 nodes and 10 programs: everything converges, and the
// objects are a set, a report and a Lease per node, not one per program
// per node. No timing is asserted; BenchmarkScale measures.
func TestScaleSmoke(t *testing.T) {
	r := run(t, 100, 10)
	t.Log(r.summary())
	if r.sets != 100 || r.reports != 100 || r.leases != 100 {
		t.Errorf("%d NodeProgramSets, %d NodeProgramReports, %d Leases for 100 nodes, want one of each per node", r.sets, r.reports, r.leases)
	}
}

var (
	benchOnce   sync.Once
	benchResult result
)

// BenchmarkScale runs 1,000 simulated nodes and 100 programs once,
// whatever b.N, and reports convergence time, writes per node, API
// requests and the operator's CPU and peak memory.
func BenchmarkScale(b *testing.B) {
	benchOnce.Do(func() { benchResult = run(b, 1000, 100) })
	r := benchResult
	b.Log(r.summary())
	total := 0.0
	for _, v := range r.requests {
		total += v
	}
	b.ReportMetric(r.converge.Seconds(), "converge-s")
	b.ReportMetric(r.statusWrites/float64(r.nodes), "status-writes/node")
	b.ReportMetric(r.specWrites/float64(r.nodes), "spec-writes/node")
	b.ReportMetric(total, "api-requests")
	b.ReportMetric(r.operatorCPU.Seconds(), "operator-cpu-s")
	b.ReportMetric(r.operatorRSS, "operator-peak-rss-MiB")
	b.ReportMetric(r.apiserverCPU.Seconds(), "apiserver-cpu-s")
	b.ReportMetric(r.machine.Steal.Seconds(), "stolen-cpu-s")
}
