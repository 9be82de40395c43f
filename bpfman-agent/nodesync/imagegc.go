package nodesync

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// collectImages removes from the image cache what the node's spec does
// not use, at the end of a pass: passes run one at a time (one object,
// one worker), so no pull is in flight. On a set the operator has not
// written, whose empty lists say nothing, only the cap is enforced. A
// failure is logged: the cache is collected again after the next pass.
func (r *Reconciler) collectImages(ctx context.Context, set *bpfleetv1.NodeProgramSet) {
	if r.ImageCache == nil {
		return
	}
	log := ctrl.LoggerFrom(ctx)
	usage, err := r.ImageCache.Collect(ctx, image.Keep{InUse: imagesInUse(&set.Spec), Unknown: !set.Spec.Scheduled})
	if err != nil {
		log.Error(err, "collect the image cache")
	}
	if usage.Removed > 0 {
		log.V(1).Info("image cache collected", "removed", usage.Removed, "bytes", usage.Bytes)
	}
	if usage.OverLimit() {
		log.Info("the images in use exceed the image cache's cap: none removed", "bytes", usage.Bytes, "limit", usage.Limit)
	}
}

// imagesInUse are the artifacts spec uses: its programs' bytecode images
// and its MapPolicies' entries artifacts. Signatures are not cached.
func imagesInUse(spec *bpfleetv1.NodeProgramSetSpec) []string {
	var refs []string
	for _, np := range spec.Programs {
		if np.Image != "" {
			refs = append(refs, np.Image)
		}
	}
	for _, mp := range spec.MapPolicies {
		if mp.EntriesFrom != nil {
			refs = append(refs, mp.EntriesFrom.Image)
		}
	}
	return refs
}
