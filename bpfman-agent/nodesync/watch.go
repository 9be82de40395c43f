package nodesync

import (
	"context"
	"maps"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/event"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// interfacePoll is how often the agent looks for interfaces that appeared
// or vanished, so that programs selecting them attach within seconds.
const interfacePoll = time.Second

// watchInterfaces sends an event whenever the node's interfaces change,
// until ctx ends. The event names this node's set, the one object the
// reconciler syncs.
func watchInterfaces(ctx context.Context, node string, out chan<- event.TypedGenericEvent[*bpfleetv1.NodeProgramSet]) {
	last, _ := attach.Interfaces()
	tick := time.NewTicker(interfacePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, err := attach.Interfaces()
		if err != nil || maps.Equal(now, last) {
			continue
		}
		last = now
		sendChange(ctx, node, out)
	}
}
