package mappolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/faultpoint"
	"github.com/bpfleet/bpfleet/internal/maptype"
)

// Config is what a Writer writes with.
type Config struct {
	// Programs holds the maps to write: each program's, and the shared.
	Programs *programs.Manager
	// Images fetches entries artifacts and checks their signatures.
	Images *image.Fetcher
	// Reader reads MapPolicies (their inline entries) uncached.
	Reader client.Reader
	// Exporter publishes the maps policies export; nil exports none.
	Exporter *metrics.Exporter
	// StateDir holds the ledger of the keys each policy wrote, on the
	// host. "" keeps none (a merge policy then cannot remove a key it
	// stops listing).
	StateDir string
}

// Writer writes the node's MapPolicies into its maps, one pass after
// another, and remembers what it wrote. It is used by one pass at a time.
// From its first count on, it holds a maps.Counter (a loaded program) for
// its lifetime, the agent's.
type Writer struct {
	programs *programs.Manager
	images   *image.Fetcher
	reader   client.Reader
	exporter *metrics.Exporter

	// written records the keys each policy wrote, on the host.
	written ledger
	// applied remembers which policy generation was written into which
	// maps, so that entries are written once, not on every pass.
	applied map[types.UID]appliedPolicy
	// metered maps the policies whose map usage is recorded to their map.
	metered map[string]string
	// counter counts the maps' entries from the kernel's count; noCounter
	// says the kernel keeps none (the maps are read to count them).
	counter   *maps.Counter
	noCounter bool
	// afterMapWrite, if set, runs after the maps are written and before
	// the ledger is narrowed: tests fail there, as a crash would.
	afterMapWrite func() error
}

// New makes a Writer that remembers nothing written yet but its ledger.
func New(c Config) *Writer {
	w := &Writer{programs: c.Programs, images: c.Images, reader: c.Reader, exporter: c.Exporter}
	if c.StateDir != "" {
		w.written.dir = filepath.Join(c.StateDir, "mappolicies")
	}
	return w
}

// Apply writes each MapPolicy's entries into the maps of the programs it
// names (or the one shared map), removes those of policies being deleted,
// forgets the policies that left the node, and publishes the maps' usage
// and exports. objects holds the ELF of every program applied in this
// pass, for the maps' BTF. The statuses are the policies', in order; the
// returned error joins the transient failures, for backoff.
func (w *Writer) Apply(ctx context.Context, policies []bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) ([]bpfleetv1.NodeMapPolicyStatus, error) {
	out := make([]bpfleetv1.NodeMapPolicyStatus, 0, len(policies))
	keep := map[types.UID]bool{}
	var errs []error
	for i := range policies {
		st, err := w.applyPolicy(ctx, &policies[i], objects)
		out = append(out, st)
		keep[policies[i].UID] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("MapPolicy %s: %w", policies[i].Name, err))
		}
	}
	for uid := range w.applied {
		if !keep[uid] {
			delete(w.applied, uid)
		}
	}
	if err := w.written.forget(keep); err != nil {
		errs = append(errs, err)
	}
	w.publishMetrics(policies, out, objects)
	return out, errors.Join(errs...)
}

// applyPolicy writes one policy once per generation and set of maps. It
// returns an error only for a transient failure.
func (w *Writer) applyPolicy(ctx context.Context, nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) (bpfleetv1.NodeMapPolicyStatus, error) {
	st := bpfleetv1.NodeMapPolicyStatus{UID: nmp.UID, Name: nmp.Name, Generation: nmp.Generation, State: bpfleetv1.StateReady}
	if nmp.Removing {
		return w.removePolicy(ctx, st, nmp, objects)
	}
	spec, err := w.mapSpec(nmp, objects)
	if err != nil {
		return policyFailed(st, err)
	}
	targets, closeAll, err := w.policyMaps(nmp, objects)
	defer closeAll()
	if err != nil {
		return policyFailed(st, err)
	}
	key := appliedKey(nmp, targets)
	if prev, ok := w.applied[nmp.UID]; ok && prev.key == key {
		return w.usage(prev.status, targets), nil
	}
	st, done, err := w.write(ctx, st, nmp, spec, targets)
	if err == nil && done {
		// Written, wholly or in part: writing again would reset the values
		// programs keep in the entries. A new generation or map writes anew.
		w.remember(nmp.UID, key, st)
	}
	return st, err
}

// write writes the entries into every target map, removing the keys the
// policy wrote before and no longer lists; the error is a failure of the
// write as a whole (transient). done is false when the next pass must
// write again: no map was touched (the entries could not be had, their
// signature does not verify, or an atomic write found no room), so
// signing the artifact later, or room made in the map, is enough.
func (w *Writer) write(ctx context.Context, st bpfleetv1.NodeMapPolicyStatus, nmp *bpfleetv1.NodeMapPolicy, spec *ebpf.MapSpec, targets []*ebpf.Map) (bpfleetv1.NodeMapPolicyStatus, bool, error) {
	entries, err := w.policyEntries(ctx, nmp)
	if err != nil {
		st, err = policyFailed(st, err)
		return st, false, err
	}
	return w.writeEntries(nmp, st, spec, targets, entries)
}

// writeEntries writes entries into every target map. The ledger is made
// durable with the keys written before and those listed now before the
// first map write, and narrowed to the keys written after the last: a
// crash between the two leaves no key in a map that the ledger does not
// know of, so a key the policy stops listing is still removed. done is as
// for write.
func (w *Writer) writeEntries(nmp *bpfleetv1.NodeMapPolicy, st bpfleetv1.NodeMapPolicyStatus, spec *ebpf.MapSpec, targets []*ebpf.Map, entries []maps.Entry) (_ bpfleetv1.NodeMapPolicyStatus, done bool, _ error) {
	if !maptype.CanWrite(spec.Type) {
		return unwritable(nmp, st, spec, entries), true, nil
	}
	listed := keysOf(entries)
	previous, err := w.written.keys(nmp.UID)
	widened := union(previous, listed)
	if err == nil && len(widened) > len(previous) {
		err = w.written.record(nmp.UID, widened)
		faultpoint.Point("ledger-widened")
	}
	if err != nil {
		st, err = policyFailed(st, err)
		return st, false, err
	}
	refused, st, err := w.writeMaps(nmp, st, spec, targets, entries, previous)
	if err != nil {
		st, err = policyFailed(st, err)
		return st, true, err
	}
	// An atomic write refused by one target may have gone into those
	// before: the ledger keeps knowing both.
	if (refused == nil || !nmp.Atomic) && !sameKeys(widened, listed) {
		if err := w.written.record(nmp.UID, listed); err != nil {
			st, err = policyFailed(st, err)
			return st, true, err
		}
		faultpoint.Point("ledger-written")
	}
	if refused != nil {
		st = entriesFailed(st, *refused, len(entries), nmp.Atomic)
		return st, !nmp.Atomic || st.Terminal, nil
	}
	return st, true, nil
}

// unwritable is the status of a policy on a map that holds no entries a
// policy can write (a ring buffer, a perf event array, a program array,
// a map of maps...): Ready if it writes none (it sizes or shares the map
// only), else terminal, written once per generation like a success (only
// a new spec can help). The operator refuses such a policy where the
// image says the map's type; this is the node's word where it does not.
func unwritable(nmp *bpfleetv1.NodeMapPolicy, st bpfleetv1.NodeMapPolicyStatus, spec *ebpf.MapSpec, entries []maps.Entry) bpfleetv1.NodeMapPolicyStatus {
	if len(entries) == 0 && maps.Mode(nmp.Mode) != maps.Exact {
		return st
	}
	st, _ = policyFailed(st, &failure.Invalid{Err: fmt.Errorf("map %q is a %s map, which holds no entries a MapPolicy can write (it writes %s maps; maxEntries and shared apply to any map)",
		nmp.MapName, spec.Type, maptype.Writable)})
	return st
}

// writeMaps applies entries to each target in turn, stopping at the first
// that refuses some (refused).
func (w *Writer) writeMaps(nmp *bpfleetv1.NodeMapPolicy, st bpfleetv1.NodeMapPolicyStatus, spec *ebpf.MapSpec, targets []*ebpf.Map, entries []maps.Entry, previous []json.RawMessage) (*maps.Result, bpfleetv1.NodeMapPolicyStatus, error) {
	opts := maps.Options{Mode: maps.Mode(nmp.Mode), Atomic: nmp.Atomic, Previous: previous, Counter: w.mapCounter()}
	for _, m := range targets {
		faultpoint.Point("map-write")
		res, err := maps.Apply(m, spec.Key, spec.Value, entries, opts)
		faultpoint.Point("map-written")
		st.Entries, st.MaxEntries = int32(res.Entries), int32(res.MaxEntries)
		if err != nil {
			return nil, st, err
		}
		if len(res.Failed) > 0 {
			return &res, st, nil
		}
	}
	if w.afterMapWrite != nil {
		return nil, st, w.afterMapWrite()
	}
	return nil, st, nil
}

// appliedPolicy is a policy generation written into a set of maps. The
// agent writes a policy again only when either changes: a rewrite would
// reset the values programs keep in the entries (counters).
type appliedPolicy struct {
	key    string
	status bpfleetv1.NodeMapPolicyStatus
}

func (w *Writer) remember(uid types.UID, key string, st bpfleetv1.NodeMapPolicyStatus) {
	if w.applied == nil {
		w.applied = map[types.UID]appliedPolicy{}
	}
	w.applied[uid] = appliedPolicy{key: key, status: st}
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
func (w *Writer) usage(st bpfleetv1.NodeMapPolicyStatus, targets []*ebpf.Map) bpfleetv1.NodeMapPolicyStatus {
	for _, m := range targets {
		if n, max, err := w.mapCounter().Usage(m); err == nil {
			st.Entries, st.MaxEntries = int32(n), int32(max)
		}
	}
	return st
}

// mapCounter is the Writer's maps.Counter, loaded at its first use; nil
// where the kernel keeps no count, so that the maps are read to count
// them.
func (w *Writer) mapCounter() *maps.Counter {
	if w.counter == nil && !w.noCounter {
		c, err := maps.NewCounter()
		w.counter, w.noCounter = c, err != nil
	}
	return w.counter
}
