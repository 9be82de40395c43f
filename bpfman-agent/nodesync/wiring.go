package nodesync

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/scrape"
)

// serveCollectors serves the agent's collectors (map exports, run
// statistics) while the manager runs. An agent that shares its process
// with others labels their series with its node, so that two agents'
// series never clash (a clash fails the whole scrape).
func serveCollectors(o Options, cs ...prometheus.Collector) manager.Runnable {
	if o.InProcess {
		for i, c := range cs {
			cs[i] = prometheus.WrapCollectorWith(prometheus.Labels{"node": o.NodeName}, c)
		}
	}
	return manager.RunnableFunc(func(ctx context.Context) error {
		return scrape.Serve(ctx, cs...)
	})
}

// addReadiness makes the agent ready once a pass has reported.
func addReadiness(mgr ctrl.Manager, r *Reconciler, _ Options) error {
	return mgr.AddReadyzCheck("synced", r.readyz)
}

// addLiveness serves the agent's liveness checks (see livez).
func addLiveness(mgr ctrl.Manager, r *Reconciler, _ Options) error {
	for name, check := range r.livenessChecks() {
		if err := mgr.AddHealthzCheck(name, check); err != nil {
			return err
		}
	}
	return nil
}

// addStatsOff turns the kernel's run statistics off with the agent.
func addStatsOff(mgr ctrl.Manager, r *Reconciler, _ Options) error {
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return r.stats.Want(false)
	}))
}

// addController starts a pass on spec changes (the held set's own watch,
// see heldSet), on a report that disappeared (its set was made anew, or
// someone deleted it) and on interfaces that appear or vanish; the
// agent's own report writes do not; and once the sets' CRD is deleted
// (uninstalled). It watches the report's and the CRD's metadata only (see
// writtenReport).
func addController(mgr ctrl.Manager, r *Reconciler, o Options) error {
	changes := make(chan event.TypedGenericEvent[*bpfleetv1.NodeProgramSet])
	err := ctrl.NewControllerManagedBy(mgr).Named("nodesync").
		WatchesMetadata(&bpfleetv1.NodeProgramReport{}, &handler.EnqueueRequestForObject{}, builder.WithPredicates(deleted())).
		WatchesMetadata(crdMeta(o.setCRD()), r.uninstalled(o.NodeName)).
		WatchesRawSource(source.Channel(changes, &handler.TypedEnqueueRequestForObject[*bpfleetv1.NodeProgramSet]{})).
		Complete(r)
	if err != nil {
		return err
	}
	watcher, err := client.NewWithWatch(mgr.GetConfig(), client.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
	})
	if err != nil {
		return err
	}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		go r.held.watch(ctx, watcher, o.NodeName, func() { sendChange(ctx, o.NodeName, changes) })
		go forwardPokes(ctx, r.pokes, func() { sendChange(ctx, o.NodeName, changes) })
		watchInterfaces(ctx, o.NodeName, changes)
		return nil
	}))
}

// forwardPokes starts a pass for each poke, until ctx ends.
func forwardPokes(ctx context.Context, pokes <-chan struct{}, pass func()) {
	for {
		select {
		case <-pokes:
			pass()
		case <-ctx.Done():
			return
		}
	}
}

// sendChange starts a pass of node's set, unless ctx ended.
func sendChange(ctx context.Context, node string, out chan<- event.TypedGenericEvent[*bpfleetv1.NodeProgramSet]) {
	set := &bpfleetv1.NodeProgramSet{}
	set.Name = node
	select {
	case out <- event.TypedGenericEvent[*bpfleetv1.NodeProgramSet]{Object: set}:
	case <-ctx.Done():
	}
}

// deleted passes only deletions.
func deleted() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=bpfleet-system,resources=leases,verbs=get;create;update;patch;delete

// addHeartbeat creates the node's set once caches run (the first pass
// needs it), then renews the agent's Lease, owned by the set, until the
// agent stops, and deletes it then.
func addHeartbeat(mgr ctrl.Manager, r *Reconciler, o Options) error {
	coordination, err := coordinationv1client.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return err
	}
	cs := nodereport.LeasesOnly{CoordinationV1Interface: coordination}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if _, err := r.ownSet(ctx); err != nil {
			return err
		}
		nodereport.Heartbeat(ctx, cs, o.LeaseNamespace, o.NodeName, r.alive)
		// Stopping: the operator need not wait for the Lease to expire to
		// know this agent is gone (a Node deleted with it releases what it
		// held at once). A restarted agent makes the Lease again.
		return nodereport.ReleaseLease(cs, o.LeaseNamespace, o.NodeName)
	}))
}
