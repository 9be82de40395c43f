package scale

import (
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// TestMain sends the simulated agents' logs (their Leases' renewals log
// only failures) to stderr while they run: thousands of agents stopping
// at once log their renewals cut short by thousands (see stopping).
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.New(untilStopping{zap.New(zap.WriteTo(os.Stderr)).GetSink()}))
	os.Exit(m.Run())
}

// stopping is set once a run stops its agents.
var stopping atomic.Bool

// untilStopping drops the log entries of a run's agents once they are
// stopping.
type untilStopping struct{ logr.LogSink }

func (s untilStopping) Info(level int, msg string, kv ...any) {
	if !stopping.Load() {
		s.LogSink.Info(level, msg, kv...)
	}
}

func (s untilStopping) Error(err error, msg string, kv ...any) {
	if !stopping.Load() {
		s.LogSink.Error(err, msg, kv...)
	}
}

func (s untilStopping) WithValues(kv ...any) logr.LogSink {
	return untilStopping{s.LogSink.WithValues(kv...)}
}

func (s untilStopping) WithName(name string) logr.LogSink {
	return untilStopping{s.LogSink.WithName(name)}
}

// Smoke runs at 100 nodes, of 10 programs and of 10 applications of 5
// programs: everything converges, and the objects are a set, a report and
// a Lease per node, not one per program per node. No timing is asserted; BenchmarkScale measures.
func TestScaleSmoke(t *testing.T) {
	for _, w := range []workload{{count: 10}, {count: 10, perApp: 5}} {
		r := runOf(t, 100, w)
		t.Log(r.summary())
		if r.sets != 100 || r.reports != 100 || r.leases != 100 {
			t.Errorf("%+v: %d NodeProgramSets, %d NodeProgramReports, %d Leases for 100 nodes, want one of each per node", w, r.sets, r.reports, r.leases)
		}
	}
}

// nodesOr is $BPFLEET_SCALE_NODES, the number of nodes a benchmark runs
// (to try a change at a smaller scale first), or n.
func nodesOr(b *testing.B, n int) int {
	env := os.Getenv("BPFLEET_SCALE_NODES")
	if env == "" {
		return n
	}
	v, err := strconv.Atoi(env)
	if err != nil || v <= 0 {
		b.Fatalf("BPFLEET_SCALE_NODES=%q: want a number of nodes", env)
	}
	return v
}

// benchRuns holds each size's run: the benchmark framework calls a
// benchmark more than once, a run happens once whatever b.N.
var benchRuns = map[[3]int]*result{}

// BenchmarkScale runs 1,000 simulated nodes and 100 programs once,
// whatever b.N, and reports convergence time, writes per node, API
// requests and the operator's CPU and peak memory.
func BenchmarkScale(b *testing.B) { benchScale(b, 1000, 100) }

// BenchmarkScale5000 is BenchmarkScale at 5,000 nodes, the largest cluster
// Kubernetes supports: several minutes on 2 cores, not in make bench.
func BenchmarkScale5000(b *testing.B) { benchScale(b, 5000, 100) }

// BenchmarkScaleApplications is BenchmarkScale with 100
// ClusterBpfApplications of 5 programs each instead of 100 programs.
func BenchmarkScaleApplications(b *testing.B) { benchScaleOf(b, 1000, workload{count: 100, perApp: 5}) }

func benchScale(b *testing.B, n, m int) { benchScaleOf(b, n, workload{count: m}) }

func benchScaleOf(b *testing.B, n int, w workload) {
	n = nodesOr(b, n)
	key := [3]int{n, w.count, w.perApp}
	r := benchRuns[key]
	if r == nil {
		res := runOf(b, n, w)
		r = &res
		benchRuns[key] = r
	}
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
	b.ReportMetric(r.etcdCPU.Seconds(), "etcd-cpu-s")
	b.ReportMetric(r.agentsCPU.Seconds(), "agents-cpu-s")
	b.ReportMetric(r.machine.Steal.Seconds(), "stolen-cpu-s")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(r.plugin.rawLists), "raw-ms") // the two lists: the baseline of the plugin-…-ms
	b.ReportMetric(ms(r.plugin.status), "plugin-status-ms")
	b.ReportMetric(ms(r.plugin.nodes), "plugin-nodes-ms")
	b.ReportMetric(ms(r.plugin.one), "plugin-status-one-ms")
	b.ReportMetric(ms(r.plugin.kubectlGet), "kubectl-get-reports-ms")
	b.ReportMetric(r.plugin.statusAllocMiB, "plugin-status-alloc-MiB")
}
