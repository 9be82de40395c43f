package mappolicy

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/internal/faultpoint"
)

// removePolicy removes the keys of a deleted policy from its maps and
// reports Unloading/Removed, which releases the policy. Programs that do
// not run have nothing to remove.
func (w *Writer) removePolicy(ctx context.Context, st bpfleetv1.NodeMapPolicyStatus, nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) (bpfleetv1.NodeMapPolicyStatus, error) {
	delete(w.applied, nmp.UID)
	st.State, st.Reason, st.Message = bpfleetv1.StateUnloading, bpfleetv1.ReasonRemoved, "entries removed"
	spec, err := w.mapSpec(nmp, objects)
	if err != nil {
		return st, nil
	}
	targets, closeAll, err := w.policyMaps(nmp, objects)
	defer closeAll()
	if err != nil {
		return st, nil
	}
	keys, err := w.writtenKeys(ctx, nmp)
	if err != nil {
		if failure.Classify(err).Terminal {
			return st, nil // a list that never parsed was never written
		}
		st.State, st.Reason, st.Message = bpfleetv1.StateFailed, bpfleetv1.ReasonUnloadFailed, err.Error()
		return st, err
	}
	for _, m := range targets {
		if _, err := maps.Remove(m, spec.Key, keys); err != nil {
			st.State, st.Reason, st.Message = bpfleetv1.StateFailed, bpfleetv1.ReasonUnloadFailed, err.Error()
			return st, err
		}
		faultpoint.Point("map-removed")
	}
	return st, nil
}
