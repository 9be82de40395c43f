package nodesync

import (
	"slices"
	"strconv"
	"strings"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// waitRetry is how soon a pass runs again when a program first waits on
// something (another program's link, an interface).
const waitRetry = 2 * time.Second

// waitBackoff spaces the passes that only retry waits: waitRetry, doubling
// up to resync while the same programs wait under the same spec, and back
// to waitRetry when either changes. What usually ends a wait starts a pass
// of its own (a spec change, an interface appearing), so a long wait costs
// one pass a minute, not one every two seconds.
type waitBackoff struct {
	key   string
	delay time.Duration
}

// next returns how long to wait before retrying the waits named by key.
func (b *waitBackoff) next(key string) time.Duration {
	if key != b.key || b.delay == 0 {
		b.key, b.delay = key, waitRetry
		return b.delay
	}
	b.delay = min(2*b.delay, resync)
	return b.delay
}

// reset forgets the waits: the next one starts at waitRetry.
func (b *waitBackoff) reset() { *b = waitBackoff{} }

// waitKey names what a pass waits on: the spec's generation and the
// programs (or a program of an application) and policies that are
// Pending, or "" if none is.
func waitKey(set *bpfleetv1.NodeProgramSet, programs []bpfleetv1.NodeProgramStatus, policies []bpfleetv1.NodeMapPolicyStatus) string {
	var pending []string
	for _, st := range programs {
		if st.State == bpfleetv1.StatePending || slices.ContainsFunc(st.Programs, pendingProgram) {
			pending = append(pending, "program/"+string(st.UID))
		}
	}
	for _, st := range policies {
		if st.State == bpfleetv1.StatePending {
			pending = append(pending, "policy/"+string(st.UID))
		}
	}
	if len(pending) == 0 {
		return ""
	}
	slices.Sort(pending)
	return strconv.FormatInt(set.Generation, 10) + "|" + strings.Join(pending, ",")
}

// pendingProgram reports whether program p of an application waits.
func pendingProgram(p bpfleetv1.ProgramAttachmentStatus) bool {
	return p.State == bpfleetv1.StatePending
}

// nextPass is how soon a pass that succeeded runs again: soon, with
// backoff, while something waits; else at resync.
func (r *Reconciler) nextPass(set *bpfleetv1.NodeProgramSet, programs []bpfleetv1.NodeProgramStatus, policies []bpfleetv1.NodeMapPolicyStatus) time.Duration {
	if key := waitKey(set, programs, policies); key != "" {
		return r.waits.next(key)
	}
	r.waits.reset()
	return resync
}
