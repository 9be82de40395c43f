package nodesync

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// measure hands the running programs that ask for run statistics to the
// RunStats collector, and keeps the kernel's statistics on exactly while
// there are some. statuses are the desired programs', in order. A kernel
// that cannot count (before 5.8) is logged, not retried: the programs run
// all the same.
func (r *Reconciler) measure(ctx context.Context, desired []bpfleetv1.NodeProgram, statuses []bpfleetv1.NodeProgramStatus) {
	var measured []metrics.Measured
	for i, np := range desired {
		if np.RunStats && i < len(statuses) && statuses[i].ProgramID != 0 {
			measured = append(measured, metrics.Measured{Kind: np.Kind, Program: np.Name, ID: statuses[i].ProgramID})
		}
	}
	if r.RunStats != nil {
		r.RunStats.Set(measured)
	}
	if err := r.stats.Want(len(measured) > 0); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "run statistics unavailable", "programs", len(measured))
	}
}
