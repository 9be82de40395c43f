package nodereport

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/jsonpatch"
)

// WriteReport replaces the whole report of set's node with report.Status,
// controlled by set (so that it goes with the set): one JSON patch when the
// report exists (reading back the report's metadata only), a create when
// it does not. The agent is the report's only writer, so nothing is
// merged: what it no longer reports is gone.
func WriteReport(ctx context.Context, c client.Client, set *bpfleetv1.NodeProgramSet, report *bpfleetv1.NodeProgramReport) error {
	controller := true // not blockOwnerDeletion: that would need update on the sets' finalizers
	owner := []metav1.OwnerReference{{
		APIVersion: bpfleetv1.GroupVersion.String(), Kind: "NodeProgramSet", Name: set.Name, UID: set.UID, Controller: &controller,
	}}
	patch, err := jsonpatch.Patch(jsonpatch.Add("/metadata/ownerReferences", owner), jsonpatch.Add("/status", report.Status))
	if err != nil {
		return fmt.Errorf("report of %s: %w", set.Name, err)
	}
	report.Name = set.Name
	meta, err := jsonpatch.Send(ctx, c, bpfleetv1.GroupVersion.WithKind("NodeProgramReport"), client.ObjectKeyFromObject(report), patch)
	if err == nil {
		report.ObjectMeta = *meta
	}
	if apierrors.IsNotFound(err) {
		fresh := &bpfleetv1.NodeProgramReport{
			ObjectMeta: metav1.ObjectMeta{Name: set.Name, OwnerReferences: owner},
			Status:     report.Status,
		}
		err = c.Create(ctx, fresh)
	}
	if err != nil {
		return fmt.Errorf("write report of %s: %w", set.Name, err)
	}
	return nil
}

// Entry reads node's report and returns its entry for the program uid, as
// a user reads it with kubectl (an error says what it holds when it holds
// none).
func Entry(ctx context.Context, c client.Reader, node string, uid types.UID) (bpfleetv1.NodeProgramStatus, error) {
	var report bpfleetv1.NodeProgramReport
	if err := c.Get(ctx, types.NamespacedName{Name: node}, &report); err != nil {
		return bpfleetv1.NodeProgramStatus{}, err
	}
	for _, e := range report.Status.Programs {
		if e.UID == uid {
			return e, nil
		}
	}
	return bpfleetv1.NodeProgramStatus{}, fmt.Errorf("node %s reports nothing of %s: %+v", node, uid, report.Status.Programs)
}
