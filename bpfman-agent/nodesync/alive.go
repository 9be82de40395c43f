package nodesync

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// alive is what the agent's Lease says: it is alive, and its node's set
// has the UID it last read; unless a pass has run for longer than
// LeaseDuration (stuck in the kernel, say): then the agent stops saying
// so, and the operator stops waiting on it.
func (r *Reconciler) alive() (types.UID, error) {
	if start := r.passStart.Load(); start != 0 {
		if d := time.Since(time.Unix(0, start)); d > nodereport.LeaseDuration {
			return "", fmt.Errorf("a sync pass has run for %v: the Lease is not renewed", d.Round(time.Second))
		}
	}
	uid, _ := r.setUID.Load().(types.UID)
	if uid == "" {
		return "", errors.New("the node's set is not known yet")
	}
	return uid, nil
}

// LivenessCheck names the check of a stuck pass among the agent's healthz
// checks: served at /healthz (with the others) and /healthz/sync-pass.
const LivenessCheck = "sync-pass"

// livenessChecks are the agent's healthz checks: it serves HTTP, and no
// pass has run for longer than StuckAfter.
func (r *Reconciler) livenessChecks() map[string]healthz.Checker {
	return map[string]healthz.Checker{"ping": healthz.Ping, LivenessCheck: r.livez}
}

// livez fails while a pass has run for longer than StuckAfter: its worker
// is stuck (every registry request and pull is bounded, so it is not
// waiting on one), and the kubelet restarts the agent. The programs keep
// running through their pins, and the new agent adopts them.
func (r *Reconciler) livez(*http.Request) error {
	start := r.passStart.Load()
	if start == 0 || r.StuckAfter <= 0 {
		return nil
	}
	if d := time.Since(time.Unix(0, start)); d > r.StuckAfter {
		return fmt.Errorf("a sync pass has run for %v, more than %v: the agent is stuck", d.Round(time.Second), r.StuckAfter)
	}
	return nil
}
