package nodesync

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// measure hands the running programs that ask for run statistics (each
// program of an application) to the RunStats collector, and keeps the kernel's statistics on exactly while
// there are some. statuses are the desired programs', in order. A kernel
// that cannot count (before 5.8) is logged, not retried: the programs run
// all the same.
func (r *Reconciler) measure(ctx context.Context, desired []bpfleetv1.NodeProgram, statuses []bpfleetv1.NodeProgramStatus) {
	var measured []metrics.Measured
	for i, np := range desired {
		if np.RunStats && i < len(statuses) {
			measured = append(measured, measuredOf(&np, &statuses[i])...)
		}
	}
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
