package controllers

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/scrape"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Options configure the operator.
type Options struct {
	MetricsAddr string // "0" disables metrics
	// MetricsSecure serves metrics over HTTPS to authorized callers only
	// (see scrape.ServerOptions).
	MetricsSecure bool
	HealthAddr    string // "" or "0" disables probes
	// PprofAddr serves net/http/pprof ("" disables it), for profiling at
	// scale.
	PprofAddr      string
	LeaderElection bool
	// LeaderElectionNamespace is where the lease lives (in-cluster default:
	// the operator's namespace).
	LeaderElectionNamespace string
	// Verify is the cluster-wide signature policy: every image must carry
	// a signature by one of its keys (nil: none required).
	Verify *bpfleetv1.ImageVerification
	// AgentServiceAccount is the agents' service account, which is granted
	// the Secrets node specs name; default bpfleet-system/bpfleet-agent.
	// Its namespace holds the agents' Leases.
	AgentServiceAccount types.NamespacedName
	// SecretNamespaces are the namespaces whose Secrets programs may name
	// (see SecretNamespaces); default: the agents' namespace, the install
	// namespace. The operator's RBAC must match: a RoleBinding to the
	// ClusterRole bpfleet-operator-secret-access in each.
	SecretNamespaces []string
	// StalledRetry is how often a resource stalled on its registry (image
	// not found, credentials refused) is tried again: a push to the
	// registry sends the operator no event. 0: 5 minutes.
	StalledRetry time.Duration
}

func (o Options) agentAccount() types.NamespacedName {
	if o.AgentServiceAccount.Name == "" {
		return types.NamespacedName{Namespace: "bpfleet-system", Name: "bpfleet-agent"}
	}
	return o.AgentServiceAccount
}

func (o Options) secretNamespaces() SecretNamespaces {
	if len(o.SecretNamespaces) == 0 {
		return SecretNamespaces{o.agentAccount().Namespace}
	}
	return o.SecretNamespaces
}

// validate refuses options the operator cannot serve: a cluster-wide
// signature key in a namespace it does not serve would fail every image
// on every node.
func (o Options) validate() error {
	if o.Verify == nil {
		return nil
	}
	if err := o.secretNamespaces().check(keyRefs(o.Verify)); err != nil {
		return fmt.Errorf("--image-verify-key: %w", err)
	}
	return nil
}

// NewManager builds the operator: every reconciler on one manager.
func NewManager(cfg *rest.Config, scheme *runtime.Scheme, o Options) (ctrl.Manager, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	bpfleetv1.ShareDecodedEntries() // every node's copy of an entry, decoded once
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 scrape.ServerOptions(o.MetricsAddr, o.MetricsSecure),
		HealthProbeBindAddress:  o.HealthAddr,
		PprofBindAddress:        o.PprofAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "bpfleet-operator.bpfleet.io",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// The leader steps down as it stops (the process ends right after
		// the manager: main returns), so that a rollout's new replica leads
		// at once instead of after the lease runs out.
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&coordinationv1.Lease{}:        leaseCache(o.agentAccount().Namespace),
				&bpfleetv1.NodeProgramReport{}: {Transform: trimReport},
				&appsv1.ControllerRevision{}:   revisionCache(),
			},
		},
	})
	if err != nil {
		return nil, err
	}
	resolver := NewRegistryResolver(mgr.GetAPIReader())
	return mgr, SetupAll(mgr, resolver, o)
}
