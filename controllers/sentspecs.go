package controllers

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// sentSpecs remembers, per node, the spec a node pass last wrote to the
// node's set and the version of the set it wrote over, until the cache
// shows a later version. A pass that runs before its predecessor's write
// came back through the informer (the event of a program change that came
// during that write starts one) finds the set as it was and would send
// the same spec again: a write that changes nothing but costs the API
// server a patch while the node's agent works. A hash stands for the
// spec: a thousand nodes' specs are not held twice. The zero value is
// ready.
type sentSpecs struct {
	mu   sync.Mutex
	last map[string]sentSpec
}

// sentSpec is a spec written over version over of a set.
type sentSpec struct {
	over string
	sum  [sha256.Size]byte
}

// already reports whether the spec of text was written already over set as the cache
// holds it. A set the cache holds at a later version than the last write
// was made over ends what is remembered of it.
func (s *sentSpecs) already(set *bpfleetv1.NodeProgramSet, text specJSON) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.last[set.Name]
	if !ok {
		return false
	}
	if prev.over != set.ResourceVersion {
		delete(s.last, set.Name)
		return false
	}
	return text.sum() == prev.sum
}

// remember records that the spec of text was written over version over
// of node's set.
func (s *sentSpecs) remember(node, over string, text specJSON) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]sentSpec{}
	}
	s.last[node] = sentSpec{over: over, sum: text.sum()}
}

// specJSON is a spec as its patch writes it: each list's JSON, encoded
// once for both the patch and the sum that remembers it (a thousand
// nodes' hundred entries each, encoded twice, were a sixth of the
// operator's CPU at scale).
type specJSON struct {
	scheduled                       bool
	programs, mapPolicies, withheld json.RawMessage
}

// encodeSpec is spec's specJSON; each list is [] when empty, not null.
func encodeSpec(spec bpfleetv1.NodeProgramSetSpec) (specJSON, error) {
	out := specJSON{scheduled: spec.Scheduled}
	var errs [3]error
	// The entries' own encoding, compact already: json.Marshal would
	// scan it once more.
	out.programs, errs[0] = emptyNotNull(spec.Programs).MarshalJSON()
	out.mapPolicies, errs[1] = json.Marshal(emptyNotNull(spec.MapPolicies))
	out.withheld, errs[2] = json.Marshal(emptyNotNull(spec.Withheld))
	if err := errors.Join(errs[:]...); err != nil {
		return specJSON{}, fmt.Errorf("encode node program set spec: %w", err)
	}
	return out, nil
}

// sum is the hash of the spec text says.
func (t specJSON) sum() [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{{boolByte(t.scheduled)}, t.programs, {0}, t.mapPolicies, {0}, t.withheld} {
		h.Write(b)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// boolByte is b as one byte of a sum.
func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
