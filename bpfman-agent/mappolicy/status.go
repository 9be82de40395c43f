package mappolicy

import (
	"errors"
	"fmt"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
)

// maxListedFailures bounds the entry failures a status message lists.
const maxListedFailures = 3

// waitError is a policy waiting for its programs to run on the node, or
// for the operator: pending, retried soon, not a failure.
type waitError struct{ what string }

func (e *waitError) Error() string { return e.what }

// specError is a policy the agent cannot act on: terminal.
type specError struct{ what string }

func (e *specError) Error() string { return e.what }

// classify sorts an error met writing a policy: waiting is Pending, a bad
// spec and an artifact that never loads are terminal, anything else is
// retried with backoff.
func classify(err error) (state bpfleetv1.ProgramState, reason string, terminal bool) {
	var werr *waitError
	var ierr *image.Error
	var serr *specError
	switch {
	case errors.As(err, &werr):
		return bpfleetv1.StatePending, bpfleetv1.ReasonWaiting, false
	case errors.As(err, &ierr):
		return bpfleetv1.StateFailed, ierr.Reason, !ierr.Transient()
	case errors.As(err, &serr):
		return bpfleetv1.StateFailed, bpfleetv1.ReasonInvalidSpec, true
	}
	return bpfleetv1.StateFailed, bpfleetv1.ReasonLoadFailed, false
}

// policyFailed reports err; it returns err again if retrying may help.
func policyFailed(st bpfleetv1.NodeMapPolicyStatus, err error) (bpfleetv1.NodeMapPolicyStatus, error) {
	st.State, st.Reason, st.Terminal = classify(err)
	st.Message = err.Error()
	if st.Terminal || st.State == bpfleetv1.StatePending {
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
