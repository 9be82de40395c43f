package mappolicy

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
)

// policyEntries are the entries a policy lists: in the MapPolicy, or in the
// artifact it names (pulled by digest into the image store, like
// bytecode).
func (w *Writer) policyEntries(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy) ([]maps.Entry, error) {
	from := nmp.EntriesFrom
	if from == nil {
		return w.inlineEntries(ctx, nmp)
	}
	art, err := w.images.Entries(ctx, image.Source{
		Ref: from.Image, PullPolicy: image.PullPolicy(from.PullPolicy), PullSecret: from.PullSecret, Verify: from.Verify,
	})
	if err != nil {
		return nil, err
	}
	entries, err := maps.ParseList(art.JSON)
	if err != nil {
		return nil, &image.Error{Reason: image.ReasonInvalid, Err: fmt.Errorf("entries %s: %w", from.Image, err)}
	}
	return entries, nil
}

// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies,verbs=get

// inlineEntries reads a policy's spec.entries from the MapPolicy itself,
// at the generation the node's set names (the set does not carry them: a
// long list copied into every node's set would cost the API server a
// write per node).
func (w *Writer) inlineEntries(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy) ([]maps.Entry, error) {
	var mp bpfleetv1.MapPolicy
	if err := w.reader.Get(ctx, types.NamespacedName{Name: nmp.Name}, &mp); err != nil {
		return nil, fmt.Errorf("read MapPolicy %s: %w", nmp.Name, err)
	}
	switch {
	case mp.UID != nmp.UID:
		return nil, &failure.Wait{What: fmt.Sprintf("MapPolicy %s was replaced; waiting for the operator", nmp.Name)}
	case mp.Generation != nmp.Generation:
		return nil, &failure.Wait{What: fmt.Sprintf("MapPolicy %s is at generation %d, the node's set at %d; waiting for the operator",
			nmp.Name, mp.Generation, nmp.Generation)}
	}
	entries := make([]maps.Entry, len(mp.Spec.Entries))
	for i, e := range mp.Spec.Entries {
		entries[i] = maps.Entry{Key: json.RawMessage(e.Key.Raw), Value: json.RawMessage(e.Value.Raw)}
	}
	return entries, nil
}

// writtenKeys are the keys a policy wrote on this node: as the ledger
// recorded them, or, without a record, the keys it lists.
func (w *Writer) writtenKeys(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy) ([]json.RawMessage, error) {
	keys, err := w.written.keys(nmp.UID)
	if err != nil || keys != nil {
		return keys, err
	}
	entries, err := w.policyEntries(ctx, nmp)
	if err != nil {
		return nil, err
	}
	keys = make([]json.RawMessage, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	return keys, nil
}
