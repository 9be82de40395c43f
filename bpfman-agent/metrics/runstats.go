package metrics

import (
	"sync"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	runCountDesc = prometheus.NewDesc("bpfleet_agent_program_run_count_total",
		"Times the program ran (the kernel's run_cnt; counted while BPF stats are on).",
		runStatsLabels, nil)
	runTimeDesc = prometheus.NewDesc("bpfleet_agent_program_run_time_seconds_total",
		"Time the program ran, summed over its runs (the kernel's run_time_ns; counted while BPF stats are on).",
		runStatsLabels, nil)
)

// runStatsLabels are the run statistics' labels: the resource's kind and
// name, and, for an application, which of its programs ("function", its
// C function). A single program kind's series has function "", which
// Prometheus stores as no label: its series are those of agents before
// applications.
var runStatsLabels = []string{"kind", "program", "function"}

// Measured is a program whose run statistics are published.
type Measured struct {
	Kind, Program string
	// Function is the program's name in its application; "" for a single
	// program kind.
	Function string
	// ID is the kernel program ID.
	ID uint32
}

// RunStats publishes the kernel's run count and run time of the programs
// that asked for them, read at scrape time. The kernel counts only while
// statistics are enabled (ebpf.EnableStats), which the agent does while
// any program on the node asks for them.
type RunStats struct {
	mu       sync.Mutex
	programs []Measured
}

// Set replaces the programs measured.
func (r *RunStats) Set(programs []Measured) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.programs = programs
}

func (r *RunStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- runCountDesc
	ch <- runTimeDesc
}

// Collect reads each program's statistics; a program gone from the kernel
// since the last pass is skipped.
func (r *RunStats) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	programs := r.programs
	r.mu.Unlock()
	for _, m := range programs {
		st, err := ReadRunStats(m.ID)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(runCountDesc, prometheus.CounterValue, float64(st.RunCount), m.Kind, m.Program, m.Function)
		ch <- prometheus.MustNewConstMetric(runTimeDesc, prometheus.CounterValue, st.Runtime.Seconds(), m.Kind, m.Program, m.Function)
	}
}

// ReadRunStats reads the kernel's run statistics of program id.
func ReadRunStats(id uint32) (*ebpf.ProgramStats, error) {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	return prog.Stats()
}
