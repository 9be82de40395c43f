package controllers

import (
	"crypto/sha256"
	"encoding/json"
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

// already reports whether spec was written already over set as the cache
// holds it. A set the cache holds at a later version than the last write
// was made over ends what is remembered of it.
func (s *sentSpecs) already(set *bpfleetv1.NodeProgramSet, spec bpfleetv1.NodeProgramSetSpec) bool {
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
	sum, ok := specSum(spec)
	return ok && sum == prev.sum
}

// remember records that spec was written over version over of node's set.
func (s *sentSpecs) remember(node, over string, spec bpfleetv1.NodeProgramSetSpec) {
	sum, ok := specSum(spec)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		delete(s.last, node)
		return
	}
	if s.last == nil {
		s.last = map[string]sentSpec{}
	}
	s.last[node] = sentSpec{over: over, sum: sum}
}

// specSum is the hash of spec's JSON; ok is false if it has none.
func specSum(spec bpfleetv1.NodeProgramSetSpec) (sum [sha256.Size]byte, ok bool) {
	b, err := json.Marshal(spec)
	if err != nil {
		return sum, false
	}
	return sha256.Sum256(b), true
}
