package mappolicy

import (
	"errors"
	"fmt"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
)

// maxListedFailures bounds the entry failures a status message lists.
const maxListedFailures = 3

// policyFailed reports err; it returns err again if retrying may help.
func policyFailed(st bpfleetv1.NodeMapPolicyStatus, err error) (bpfleetv1.NodeMapPolicyStatus, error) {
	f := failure.Classify(err)
	st.State, st.Reason, st.Terminal, st.Message = f.State, f.Reason, f.Terminal, f.Message
	if f.Transient() {
		return st, err
	}
	return st, nil
}

// entriesFailed reports the entries the map refused, naming the first few.
func entriesFailed(st bpfleetv1.NodeMapPolicyStatus, res maps.Result, total int, atomic bool) bpfleetv1.NodeMapPolicyStatus {
	var msgs []string
	for _, f := range res.Failed[:min(len(res.Failed), maxListedFailures)] {
		msgs = append(msgs, fmt.Sprintf("entry %d: %v", f.Index, f.Err))
	}
	written := fmt.Sprintf("the other %d written", total-len(res.Failed))
	if atomic {
		written = "none written (atomic: the map is as it was)"
	}
	st.State, st.Reason, st.Terminal = bpfleetv1.StateFailed, bpfleetv1.ReasonBadEntries, true
	if allFull(res.Failed) {
		// Room may come: keys removed, or maxEntries raised.
		st.Reason, st.Terminal = bpfleetv1.ReasonMapFull, false
		if atomic {
			written += ", tried again on the next pass"
		}
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
