package nodesync

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// checkPinRoot checks, before a pass touches the kernel, that the pin
// root still holds the pins (see programs.Manager.CheckRoot), and returns
// why they were lost if they were: every program the pass runs is then
// loaded anew. A root that cannot be made again fails every program of the
// pass with PinRootUnavailable.
func (r *Reconciler) checkPinRoot(ctx context.Context) string {
	lost, err := r.Programs.CheckRoot()
	log := ctrl.LoggerFrom(ctx)
	switch {
	case err != nil:
		metrics.CountPinRootLost(metrics.PinRootUnavailable)
		log.Error(err, "the pin root is unavailable: loading nothing until it is back", "lost", lost)
	case lost != "":
		metrics.CountPinRootLost(metrics.PinRootReloaded)
		log.Info("the pins were lost with the programs they held: reloading every program", "reason", lost)
	}
	return lost
}

// markReloaded says, in the status of each program that runs, that it
// was loaded anew because its pins were lost.
func markReloaded(statuses []bpfleetv1.NodeProgramStatus, lost string) {
	if lost == "" {
		return
	}
	for i := range statuses {
		if statuses[i].State != bpfleetv1.StateReady {
			continue
		}
		msg := "reloaded: " + lost
		if statuses[i].Message != "" {
			msg += "; " + statuses[i].Message
		}
		statuses[i].Message = msg
	}
}
