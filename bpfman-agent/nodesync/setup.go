package nodesync

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/mappolicy"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/scrape"
)

// Options configure an agent.
type Options struct {
	NodeName string
	PinRoot  string // e.g. /sys/fs/bpf/bpfleet
	// BPFFSMountAt is where the agent may mount a BPF filesystem when the
	// pin root's is gone: the root or a directory above it. "" gives
	// pins.DefaultMountAt of the root (/sys/fs/bpf for a root under it).
	BPFFSMountAt string
	ImageDir     string // the on-host image cache
	// StateDir holds the agent's on-host state: the keys each MapPolicy
	// wrote. "" keeps none (a merge policy then cannot remove a key it
	// stops listing).
	StateDir    string
	MetricsAddr string // "0" disables metrics
	// MetricsSecure serves metrics over HTTPS to authorized callers only
	// (see scrape.ServerOptions).
	MetricsSecure bool
	HealthAddr    string // "" or "0" disables probes
	// PprofAddr serves /debug/pprof ("" or "0" disables it).
	PprofAddr string
	// ImageCacheMaxBytes caps the image cache (0: image.DefaultMaxCacheSize);
	// images the node's spec uses are kept even above it.
	ImageCacheMaxBytes int64
	// RegistryTimeout bounds the wait for a registry's answer to each
	// request, and each silence in a body (0: 30 s).
	RegistryTimeout time.Duration
	// PullTimeout bounds one pull, or one look for signatures, as a whole
	// (0: image.DefaultPullTimeout). A pass running for more than twice
	// as long fails the agent's liveness check (see livez).
	PullTimeout time.Duration
	// LeaseNamespace holds the Lease the agent renews to say it is alive
	// (the agents' namespace; the operator reads it there).
	LeaseNamespace string
	// SetCRD is the CRD whose deletion uninstalls the agent: it then
	// unloads everything ("": bpfleetv1.NodeProgramSetCRD; tests name
	// another).
	SetCRD string
	// CSI configures the driver mounting maps into pods; its Endpoint ""
	// runs none.
	CSI CSIOptions
	// Pods configures how the agent finds its node's pods (pod targets).
	Pods PodOptions
	// InProcess allows more than one agent in a process (one after another
	// in tests, or several simulated nodes): controller names are not
	// required to be unique.
	InProcess bool
}

// NewManager builds an agent: a manager whose cache holds only the
// metadata of this node's NodeProgramReport, the watch of this node's
// NodeProgramSet (heldSet), and the reconciler syncing the kernel with the
// one and writing the other; beside it the agent's metrics, readiness,
// interface watch and Lease.
func NewManager(cfg *rest.Config, scheme *runtime.Scheme, o Options) (ctrl.Manager, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	progs, store, err := openHost(o)
	if err != nil {
		return nil, err
	}
	mgr, err := newManager(cfg, scheme, o)
	if err != nil {
		return nil, err
	}
	exporter := metrics.NewExporter()
	r := newReconciler(mgr, o, progs, store, exporter)
	if err := mgr.Add(serveCollectors(o, exporter, r.RunStats)); err != nil {
		return nil, err
	}
	for _, add := range []func(ctrl.Manager, *Reconciler, Options) error{
		addReadiness, addLiveness, addStatsOff, addVolumes, addPods, addController, addHeartbeat,
	} {
		if err := add(mgr, r, o); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// validate refuses Options without what every agent needs.
func (o Options) validate() error {
	if o.NodeName == "" {
		return errors.New("node name is required")
	}
	if o.LeaseNamespace == "" {
		return errors.New("lease namespace is required")
	}
	return nil
}

// openHost opens the agent's state on the host: its pin root and its
// image cache.
func openHost(o Options) (*programs.Manager, *image.Store, error) {
	progs, err := programs.New(o.PinRoot, programs.MountBPFFSAt(o.mountAt()))
	if err != nil {
		return nil, nil, fmt.Errorf("pin root %s: %w", o.PinRoot, err)
	}
	store, err := image.NewStore(o.ImageDir, o.imageOptions()...)
	if err != nil {
		return nil, nil, fmt.Errorf("image cache %s: %w", o.ImageDir, err)
	}
	return progs, store, nil
}

// mountAt is where the agent may mount the pin root's BPF filesystem.
func (o Options) mountAt() string {
	if o.BPFFSMountAt != "" {
		return o.BPFFSMountAt
	}
	return pins.DefaultMountAt(o.PinRoot)
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// newManager makes a manager whose cache may hold only this node's set
// and report (the report's metadata, see writtenReport; the set is
// watched by heldSet, not cached) and the sets' CRD's metadata, without
// their managedFields (which the agent never reads).
func newManager(cfg *rest.Config, scheme *runtime.Scheme, o Options) (ctrl.Manager, error) {
	own := cache.ByObject{Field: fields.OneTermEqualSelector("metadata.name", o.NodeName)}
	byObject := map[client.Object]cache.ByObject{
		&bpfleetv1.NodeProgramSet{}: own, &bpfleetv1.NodeProgramReport{}: own,
		crdMeta(o.setCRD()): {Field: fields.OneTermEqualSelector("metadata.name", o.setCRD())},
	}
	podCache(byObject, o)
	return ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                scrape.ServerOptions(o.MetricsAddr, o.MetricsSecure),
		HealthProbeBindAddress: o.HealthAddr,
		PprofBindAddress:       o.PprofAddr,
		Controller:             config.Controller{SkipNameValidation: &o.InProcess},
		Cache: cache.Options{
			ByObject:         byObject,
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	})
}

// newReconciler makes the reconciler, and the MapPolicy writer it calls.
// Pull secrets and signature keys are read uncached.
func newReconciler(mgr ctrl.Manager, o Options, progs *programs.Manager, store *image.Store, exporter *metrics.Exporter) *Reconciler {
	images := image.NewFetcher(store, apiSecrets{mgr.GetAPIReader()})
	r := &Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), NodeName: o.NodeName, LeaseNamespace: o.LeaseNamespace,
		Programs: progs, Images: images, ImageCache: store, Kernel: probe.Kernel(), RunStats: &metrics.RunStats{},
		StuckAfter: o.stuckAfter(), setCRD: o.setCRD(), pokes: make(chan struct{}, 1),
	}
	policies := mappolicy.New(mappolicy.Config{
		Programs: progs, Images: images, Reader: mgr.GetAPIReader(), Exporter: exporter, StateDir: o.StateDir,
	})
	r.MapPolicies = policies
	return r
}

// setCRD is the CRD whose deletion uninstalls the agent.
func (o Options) setCRD() string {
	if o.SetCRD != "" {
		return o.SetCRD
	}
	return bpfleetv1.NodeProgramSetCRD
}

// imageOptions are the image store's limits the options set.
func (o Options) imageOptions() []image.Option {
	var opts []image.Option
	if o.ImageCacheMaxBytes > 0 {
		opts = append(opts, image.WithMaxCacheSize(o.ImageCacheMaxBytes))
	}
	if o.RegistryTimeout > 0 {
		opts = append(opts, image.WithRequestTimeouts(bpfoci.Timeouts{Connect: bpfoci.DefaultConnectTimeout, Header: o.RegistryTimeout}))
	}
	if o.PullTimeout > 0 {
		opts = append(opts, image.WithPullTimeout(o.PullTimeout))
	}
	return opts
}

// stuckAfter is how long a pass may run before the agent's liveness check
// fails: twice the pull timeout, so that a pass holding a pull that uses
// all of it (and more work besides) is not taken for stuck; never less
// than the Lease, which stops being renewed after that long.
func (o Options) stuckAfter() time.Duration {
	pull := o.PullTimeout
	if pull <= 0 {
		pull = image.DefaultPullTimeout
	}
	return max(2*pull, nodereport.LeaseDuration)
}
