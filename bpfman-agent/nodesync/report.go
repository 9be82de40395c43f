package nodesync

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// newReport is an empty report of this node, for a pass to fill.
func (r *Reconciler) newReport() *bpfleetv1.NodeProgramReport {
	return &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: r.NodeName}}
}

// fill puts what the pass found into report, with the kernel's
// capabilities (probing again the hooks whose probe was inconclusive).
func (r *Reconciler) fill(report *bpfleetv1.NodeProgramReport, set *bpfleetv1.NodeProgramSet, statuses []bpfleetv1.NodeProgramStatus) {
	report.Status.Programs = statuses
	report.Status.SetGeneration = set.Generation
	if len(r.Kernel.Unknown) > 0 {
		r.Kernel.Retry()
	}
	caps := r.Kernel.Capabilities()
	report.Status.Capabilities = &caps
}

// writeReport writes report when the one written is stale (see
// writtenReport); LastSync says when it was.
func (r *Reconciler) writeReport(ctx context.Context, report *bpfleetv1.NodeProgramReport, set *bpfleetv1.NodeProgramSet) error {
	stale, err := r.written.stale(ctx, r.Client, r.APIReader, report, set)
	if err != nil || !stale {
		return err
	}
	now := metav1.Now()
	report.Status.LastSync = &now
	if err := nodereport.WriteReport(ctx, r.Client, set, report); err != nil {
		r.written.forget()
		return err
	}
	if report.ResourceVersion == "" { // created: the next pass reads it
		r.written.forget()
		return nil
	}
	r.written.remember(report)
	return nil
}
