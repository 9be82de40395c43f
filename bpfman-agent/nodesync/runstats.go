package nodesync

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// measure hands the running programs that ask for run statistics (each
// program of an application) to the RunStats collector, puts their
// statistics in their statuses (see runStatsReads), and keeps the
// kernel's statistics on exactly while there are some. statuses are the
// desired programs', in order. A kernel that cannot count (before 5.8)
// is logged, not retried: the programs run all the same.
func (r *Reconciler) measure(ctx context.Context, desired []bpfleetv1.NodeProgram, statuses []bpfleetv1.NodeProgramStatus) {
	var measured []metrics.Measured
	now := time.Now()
	for i, np := range desired {
		if np.RunStats && i < len(statuses) {
			measured = append(measured, measuredOf(&np, &statuses[i])...)
			r.runStats.fill(&statuses[i], now)
		}
	}
	r.runStats.keep(measured)
	if r.RunStats != nil {
		r.RunStats.Set(measured)
	}
	if err := r.stats.Want(len(measured) > 0); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "run statistics unavailable", "programs", len(measured))
	}
}

// measuredOf lists the running programs of np, whose status is st: the
// program of a single kind, each program of an application.
func measuredOf(np *bpfleetv1.NodeProgram, st *bpfleetv1.NodeProgramStatus) []metrics.Measured {
	var out []metrics.Measured
	if st.ProgramID != 0 {
		out = append(out, metrics.Measured{Kind: np.Kind, Program: np.Ref(), ID: st.ProgramID})
	}
	for _, p := range st.Programs {
		if p.ProgramID != 0 {
			out = append(out, metrics.Measured{Kind: np.Kind, Program: np.Ref(), Function: p.Name, ID: p.ProgramID})
		}
	}
	return out
}

// runStatsReads are the run statistics the node's report holds, by
// program ID. They are read again only once every (default resync)
// has passed since: the statistics move with every run, and each read
// that changed them would be a write of the report.
type runStatsReads struct {
	every time.Duration
	last  map[uint32]*bpfleetv1.RunStats
}

// fill puts the statistics of st's programs into it.
func (s *runStatsReads) fill(st *bpfleetv1.NodeProgramStatus, now time.Time) {
	if st.ProgramID != 0 {
		st.RunStats = s.read(st.ProgramID, now)
	}
	for i := range st.Programs {
		if p := &st.Programs[i]; p.ProgramID != 0 {
			p.RunStats = s.read(p.ProgramID, now)
		}
	}
}

// read returns program id's statistics as last read, or reads them if
// that was every ago or more (nil if they never read).
func (s *runStatsReads) read(id uint32, now time.Time) *bpfleetv1.RunStats {
	every := s.every
	if every == 0 {
		every = resync
	}
	last := s.last[id]
	if last != nil && now.Sub(last.ReadAt.Time) < every {
		return last
	}
	st, err := metrics.ReadRunStats(id)
	if err != nil {
		return last
	}
	if s.last == nil {
		s.last = map[uint32]*bpfleetv1.RunStats{}
	}
	s.last[id] = &bpfleetv1.RunStats{RunCount: st.RunCount, RunTimeNs: uint64(st.Runtime.Nanoseconds()), ReadAt: metav1.NewTime(now)}
	return s.last[id]
}

// keep forgets the reads of programs no longer measured.
func (s *runStatsReads) keep(measured []metrics.Measured) {
	ids := make(map[uint32]bool, len(measured))
	for _, m := range measured {
		ids[m.ID] = true
	}
	for id := range s.last {
		if !ids[id] {
			delete(s.last, id)
		}
	}
}
