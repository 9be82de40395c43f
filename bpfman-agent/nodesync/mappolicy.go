package nodesync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
)

// maxListedFailures bounds the entry failures a status message lists.
const maxListedFailures = 3

// applyPolicies writes each MapPolicy's entries into the maps of the
// programs it names (or the one shared map). objects holds the ELF of every
// program applied in this pass, for the maps' BTF.
// The returned error joins the transient failures, for backoff.
func (r *Reconciler) applyPolicies(ctx context.Context, policies []bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) ([]bpfleetv1.NodeMapPolicyStatus, error) {
	out := make([]bpfleetv1.NodeMapPolicyStatus, 0, len(policies))
	keep := map[types.UID]bool{}
	var errs []error
	for i := range policies {
		st, err := r.applyPolicy(ctx, &policies[i], objects)
		out = append(out, st)
		keep[policies[i].UID] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("MapPolicy %s: %w", policies[i].Name, err))
		}
	}
	for uid := range r.applied {
		if !keep[uid] {
			delete(r.applied, uid)
		}
	}
	if err := r.written.forget(keep); err != nil {
		errs = append(errs, err)
	}
	r.publishMetrics(policies, out, objects)
	return out, errors.Join(errs...)
}

// applyPolicy writes one policy once per generation and set of maps. It
// returns an error only for a transient failure.
func (r *Reconciler) applyPolicy(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) (bpfleetv1.NodeMapPolicyStatus, error) {
	st := bpfleetv1.NodeMapPolicyStatus{UID: nmp.UID, Name: nmp.Name, Generation: nmp.Generation, State: bpfleetv1.StateReady}
	if nmp.Removing {
		return r.removePolicy(ctx, st, nmp, objects)
	}
	spec, err := r.mapSpec(nmp, objects)
	if err != nil {
		return policyFailed(st, err)
	}
	targets, closeAll, err := r.policyMaps(nmp, objects)
	defer closeAll()
	if err != nil {
		return policyFailed(st, err)
	}
	key := appliedKey(nmp, targets)
	if prev, ok := r.applied[nmp.UID]; ok && prev.key == key {
		return usage(prev.status, targets), nil
	}
	st, wrote, err := r.write(ctx, st, nmp, spec, targets)
	if err == nil && wrote {
		// Written, wholly or in part: writing again would reset the values
		// programs keep in the entries. A new generation or map writes anew.
		r.remember(nmp.UID, key, st)
	}
	return st, err
}

// write writes the entries into every target map, removing the keys the
// policy wrote before and no longer lists; the error is a failure of the
// write as a whole (transient). wrote is false when no map was touched
// (the entries could not be had, or their signature does not verify): the
// next pass tries again, so signing the artifact later is enough.
func (r *Reconciler) write(ctx context.Context, st bpfleetv1.NodeMapPolicyStatus, nmp *bpfleetv1.NodeMapPolicy, spec *ebpf.MapSpec, targets []*ebpf.Map) (bpfleetv1.NodeMapPolicyStatus, bool, error) {
	entries, err := r.policyEntries(ctx, nmp)
	if err != nil {
		st, err = policyFailed(st, err)
		return st, false, err
	}
	st, err = r.writeEntries(nmp, st, spec, targets, entries)
	return st, true, err
}

// writeEntries writes entries into every target map.
func (r *Reconciler) writeEntries(nmp *bpfleetv1.NodeMapPolicy, st bpfleetv1.NodeMapPolicyStatus, spec *ebpf.MapSpec, targets []*ebpf.Map, entries []maps.Entry) (bpfleetv1.NodeMapPolicyStatus, error) {
	previous, err := r.written.keys(nmp.UID)
	if err != nil {
		return policyFailed(st, err)
	}
	opts := maps.Options{Mode: maps.Mode(nmp.Mode), Atomic: nmp.Atomic, Previous: previous}
	var refused *maps.Result
	for _, m := range targets {
		res, err := maps.Apply(m, spec.Key, spec.Value, entries, opts)
		st.Entries, st.MaxEntries = int32(res.Entries), int32(res.MaxEntries)
		if err != nil {
			return policyFailed(st, err)
		}
		if len(res.Failed) > 0 {
			refused = &res
			break
		}
	}
	if refused == nil || !nmp.Atomic {
		if err := r.written.record(nmp.UID, entries); err != nil {
			return policyFailed(st, err)
		}
	}
	if refused != nil {
		return entriesFailed(st, *refused, len(entries), nmp.Atomic), nil
	}
	return st, nil
}

// policyEntries are the entries a policy lists: in the MapPolicy, or in the
// artifact it names (pulled by digest into the image store, like
// bytecode).
func (r *Reconciler) policyEntries(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy) ([]maps.Entry, error) {
	from := nmp.EntriesFrom
	if from == nil {
		return r.inlineEntries(ctx, nmp)
	}
	art, err := r.Images.Entries(ctx, image.Source{
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
func (r *Reconciler) inlineEntries(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy) ([]maps.Entry, error) {
	var mp bpfleetv1.MapPolicy
	if err := r.APIReader.Get(ctx, types.NamespacedName{Name: nmp.Name}, &mp); err != nil {
		return nil, fmt.Errorf("read MapPolicy %s: %w", nmp.Name, err)
	}
	switch {
	case mp.UID != nmp.UID:
		return nil, &waitError{fmt.Sprintf("MapPolicy %s was replaced; waiting for the operator", nmp.Name)}
	case mp.Generation != nmp.Generation:
		return nil, &waitError{fmt.Sprintf("MapPolicy %s is at generation %d, the node's set at %d; waiting for the operator",
			nmp.Name, mp.Generation, nmp.Generation)}
	}
	entries := make([]maps.Entry, len(mp.Spec.Entries))
	for i, e := range mp.Spec.Entries {
		entries[i] = maps.Entry{Key: json.RawMessage(e.Key.Raw), Value: json.RawMessage(e.Value.Raw)}
	}
	return entries, nil
}

// appliedPolicy is a policy generation written into a set of maps. The
// agent writes a policy again only when either changes: a rewrite would
// reset the values programs keep in the entries (counters).
type appliedPolicy struct {
	key    string
	status bpfleetv1.NodeMapPolicyStatus
}

func (r *Reconciler) remember(uid types.UID, key string, st bpfleetv1.NodeMapPolicyStatus) {
	if r.applied == nil {
		r.applied = map[types.UID]appliedPolicy{}
	}
	r.applied[uid] = appliedPolicy{key: key, status: st}
}

// appliedKey identifies what a write wrote: the policy generation and the
// kernel maps it went to.
func appliedKey(nmp *bpfleetv1.NodeMapPolicy, targets []*ebpf.Map) string {
	key := fmt.Sprint(nmp.Generation)
	for _, m := range targets {
		if info, err := m.Info(); err == nil {
			if id, ok := info.ID(); ok {
				key += fmt.Sprintf("/%d", id)
			}
		}
	}
	return key
}

// usage refreshes the entry count of an already written policy.
func usage(st bpfleetv1.NodeMapPolicyStatus, targets []*ebpf.Map) bpfleetv1.NodeMapPolicyStatus {
	for _, m := range targets {
		if n, max, err := maps.Usage(m); err == nil {
			st.Entries, st.MaxEntries = int32(n), int32(max)
		}
	}
	return st
}

// mapSpec finds the map in the object of one of the policy's programs.
func (r *Reconciler) mapSpec(nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) (*ebpf.MapSpec, error) {
	for _, uid := range nmp.Programs {
		obj, ok := objects[uid]
		if !ok {
			continue
		}
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
		if err != nil {
			return nil, err
		}
		if ms := spec.Maps[nmp.MapName]; ms != nil {
			return ms, nil
		}
		return nil, &specError{fmt.Errorf("the program's object has no map %q", nmp.MapName)}
	}
	return nil, &waitError{"waiting for a selected program to run on this node"}
}

// policyMaps opens the maps to write: the shared map, or the map of each
// program that runs (a failed program does not hold the others back).
func (r *Reconciler) policyMaps(nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) ([]*ebpf.Map, func(), error) {
	var out []*ebpf.Map
	closeAll := func() {
		for _, m := range out {
			m.Close()
		}
	}
	if nmp.Shared != "" {
		m, err := r.Programs.SharedMap(nmp.Shared)
		if err != nil {
			return nil, closeAll, fmt.Errorf("shared map %s: %w", nmp.Shared, err)
		}
		return append(out, m), func() { m.Close() }, nil
	}
	for _, uid := range nmp.Programs {
		if _, running := objects[uid]; !running {
			continue
		}
		m, err := r.Programs.Map(string(uid), nmp.MapName)
		if err != nil {
			return out, closeAll, &waitError{fmt.Sprintf("program %s has no map %s running yet: %v", uid, nmp.MapName, err)}
		}
		out = append(out, m)
	}
	return out, closeAll, nil
}

// policyFailed reports err; it returns err again if retrying may help.
func policyFailed(st bpfleetv1.NodeMapPolicyStatus, err error) (bpfleetv1.NodeMapPolicyStatus, error) {
	f := classify(err)
	st.State, st.Reason, st.Message, st.Terminal = f.state, f.reason, f.message, f.terminal
	if f.terminal || f.state == bpfleetv1.StatePending {
		return st, nil
	}
	return st, err
}

// entriesFailed reports the entries the map refused, naming the first few.
func entriesFailed(st bpfleetv1.NodeMapPolicyStatus, res maps.Result, total int, atomic bool) bpfleetv1.NodeMapPolicyStatus {
	var msgs []string
	for _, f := range res.Failed[:min(len(res.Failed), maxListedFailures)] {
		msgs = append(msgs, fmt.Sprintf("entry %d: %v", f.Index, f.Err))
	}
	written := fmt.Sprintf("the other %d written", total-len(res.Failed))
	if atomic {
		written = "none written (atomic)"
	}
	st.State, st.Reason, st.Terminal = bpfleetv1.StateFailed, bpfleetv1.ReasonBadEntries, true
	if allFull(res.Failed) {
		// Room may come: keys removed, or maxEntries raised.
		st.Reason, st.Terminal = bpfleetv1.ReasonMapFull, false
	}
	st.Message = fmt.Sprintf("%d of %d entries refused, %s: %s", len(res.Failed), total, written, strings.Join(msgs, "; "))
	return st
}

func allFull(failed []maps.EntryError) bool {
	for _, f := range failed {
		if !errors.Is(f.Err, maps.ErrMapFull) {
			return false
		}
	}
	return true
}

// removePolicy removes the keys of a deleted policy from its maps and
// reports Unloading/Removed, which releases the policy. Programs that do
// not run have nothing to remove.
func (r *Reconciler) removePolicy(ctx context.Context, st bpfleetv1.NodeMapPolicyStatus, nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) (bpfleetv1.NodeMapPolicyStatus, error) {
	delete(r.applied, nmp.UID)
	st.State, st.Reason, st.Message = bpfleetv1.StateUnloading, bpfleetv1.ReasonRemoved, "entries removed"
	spec, err := r.mapSpec(nmp, objects)
	if err != nil {
		return st, nil
	}
	targets, closeAll, err := r.policyMaps(nmp, objects)
	defer closeAll()
	if err != nil {
		return st, nil
	}
	keys, err := r.writtenKeys(ctx, nmp)
	if err != nil {
		if classify(err).terminal {
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
	}
	return st, nil
}

// writtenKeys are the keys a policy wrote on this node: as the ledger
// recorded them, or, without a record, the keys it lists.
func (r *Reconciler) writtenKeys(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy) ([]json.RawMessage, error) {
	keys, err := r.written.keys(nmp.UID)
	if err != nil || keys != nil {
		return keys, err
	}
	entries, err := r.policyEntries(ctx, nmp)
	if err != nil {
		return nil, err
	}
	keys = make([]json.RawMessage, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	return keys, nil
}
