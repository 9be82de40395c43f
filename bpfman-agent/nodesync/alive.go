package nodesync

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

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
