package image

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// silentFor is how long a registry that timed out is not asked again: the
// node's other programs pulling from it fail at once instead of each
// waiting out the timeout, so a pass against a registry that never
// answers costs one timeout, not one per program (and stays well inside
// the agent's liveness bound).
const silentFor = time.Minute

// silence remembers the registries that timed out, and until when they
// are not asked again. The zero value is ready; it is safe for concurrent
// use.
type silence struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// check returns a pull failure if host timed out less than silentFor ago.
func (s *silence) check(host string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.until[host]
	if !ok || !now.Before(until) {
		delete(s.until, host)
		return nil
	}
	return &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("registry %s %w earlier: not asked again before %s",
		host, bpfoci.ErrTimeout, until.UTC().Format(time.RFC3339))}
}

// note remembers host as silent if err says it timed out, and returns err.
func (s *silence) note(host string, now time.Time, err error) error {
	if !errors.Is(err, bpfoci.ErrTimeout) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = map[string]time.Time{}
	}
	s.until[host] = now.Add(silentFor)
	return err
}
