package nodesync

import (
	"context"
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/scrape"
)

// Options configure an agent.
type Options struct {
	NodeName string
	PinRoot  string // e.g. /sys/fs/bpf/bpfleet
	ImageDir string // the on-host image cache
	// StateDir holds the agent's on-host state: the keys each MapPolicy
	// wrote. "" keeps none (a merge policy then cannot remove a key it
	// stops listing).
	StateDir    string
	MetricsAddr string // "0" disables metrics
	// MetricsSecure serves metrics over HTTPS to authorized callers only
	// (see scrape.ServerOptions).
	MetricsSecure bool
	HealthAddr    string // "" or "0" disables probes
	// LeaseNamespace holds the Lease the agent renews to say it is alive
	// (the agents' namespace; the operator reads it there).
	LeaseNamespace string
	// InProcess allows more than one agent in a process (one after another
	// in tests, or several simulated nodes): controller names are not
	// required to be unique.
	InProcess bool
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=bpfleet-system,resources=leases,verbs=get;create;update

// NewManager builds an agent: a manager whose cache holds only this node's
// NodeProgramSet and NodeProgramReport, and the reconciler syncing the
// kernel with the one and writing the other.
func NewManager(cfg *rest.Config, scheme *runtime.Scheme, o Options) (ctrl.Manager, error) {
	if o.NodeName == "" {
		return nil, fmt.Errorf("node name is required")
	}
	if o.LeaseNamespace == "" {
		return nil, fmt.Errorf("lease namespace is required")
	}
	progs, err := programs.New(o.PinRoot)
	if err != nil {
		return nil, fmt.Errorf("pin root %s: %w", o.PinRoot, err)
	}
	images, err := image.NewStore(o.ImageDir)
	if err != nil {
		return nil, fmt.Errorf("image cache %s: %w", o.ImageDir, err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                scrape.ServerOptions(o.MetricsAddr, o.MetricsSecure),
		HealthProbeBindAddress: o.HealthAddr,
		Controller:             config.Controller{SkipNameValidation: &o.InProcess},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&bpfleetv1.NodeProgramSet{}:    {Field: fields.OneTermEqualSelector("metadata.name", o.NodeName)},
			&bpfleetv1.NodeProgramReport{}: {Field: fields.OneTermEqualSelector("metadata.name", o.NodeName)},
		}},
	})
	if err != nil {
		return nil, err
	}
	r := &Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), NodeName: o.NodeName,
		Programs: progs, Images: image.NewFetcher(images, apiSecrets{mgr.GetAPIReader()}), Capabilities: probe.Kernel().Capabilities(),
		Exporter: metrics.NewExporter(), RunStats: &metrics.RunStats{},
	}
	if o.StateDir != "" {
		r.written.dir = filepath.Join(o.StateDir, "mappolicies")
	}
	if err := mgr.Add(serveCollectors(o, r.Exporter, r.RunStats)); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("synced", r.readyz); err != nil {
		return nil, err
	}
	// The kernel's run statistics go off with the agent.
	statsOff := manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return r.stats.Want(false)
	})
	if err := mgr.Add(statsOff); err != nil {
		return nil, err
	}
	changes := make(chan event.TypedGenericEvent[*bpfleetv1.NodeProgramSet])
	// Spec changes start a pass, and so does a report that disappeared (its
	// set was made anew, or someone deleted it); the agent's own report
	// writes do not.
	err = ctrl.NewControllerManagedBy(mgr).Named("nodesync").
		For(&bpfleetv1.NodeProgramSet{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&bpfleetv1.NodeProgramReport{}, &handler.EnqueueRequestForObject{}, builder.WithPredicates(deleted())).
		WatchesRawSource(source.Channel(changes, &handler.TypedEnqueueRequestForObject[*bpfleetv1.NodeProgramSet]{})).
		Complete(r)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		watchInterfaces(ctx, o.NodeName, changes)
		return nil
	})); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	// The first pass needs the set to exist: create it once caches run.
	// The agent's Lease, owned by the set, follows.
	return mgr, mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if _, err := r.ownSet(ctx); err != nil {
			return err
		}
		nodereport.Heartbeat(ctx, cs, o.LeaseNamespace, o.NodeName, r.alive)
		return nil
	}))
}

// deleted passes only deletions.
func deleted() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
