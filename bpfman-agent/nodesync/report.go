package nodesync

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// ownReport gets this node's report from the cache, or an empty one (no
// UID) when there is none yet.
func (r *Reconciler) ownReport(ctx context.Context) (*bpfleetv1.NodeProgramReport, error) {
	var report bpfleetv1.NodeProgramReport
	err := r.Get(ctx, types.NamespacedName{Name: r.NodeName}, &report)
	if apierrors.IsNotFound(err) {
		return &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: r.NodeName}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node program report %s: %w", r.NodeName, err)
	}
	return &report, nil
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

// writeReport writes report when the one written (base) is stale; LastSync
// says when it was.
func (r *Reconciler) writeReport(ctx context.Context, base, report *bpfleetv1.NodeProgramReport, set *bpfleetv1.NodeProgramSet) error {
	if !nodereport.Stale(base, report, set) {
		return nil
	}
	now := metav1.Now()
	report.Status.LastSync = &now
	return nodereport.WriteReport(ctx, r.Client, set, report)
}
