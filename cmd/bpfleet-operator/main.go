// Command bpfleet-operator runs the cluster-side reconcilers: it schedules
// programs to nodes and reports their status on each program resource.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bpfleet/bpfleet/internal/buildinfo"

	"k8s.io/apimachinery/pkg/types"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/memprofile"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

func main() {
	var o controllers.Options
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", `address of the metrics endpoint ("0" disables it)`)
	flag.BoolVar(&o.MetricsSecure, "metrics-secure", false, "serve metrics over HTTPS to callers the API server authorizes for GET /metrics (as in a cluster); plain HTTP otherwise")
	flag.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "address of the health and readiness probes")
	flag.StringVar(&o.PprofAddr, "pprof-bind-address", "", `address of net/http/pprof, for profiling ("" disables it)`)
	flag.DurationVar(&o.StalledRetry, "stalled-retry", 5*time.Minute, "how often a resource stalled on its registry (image not found, credentials refused) is tried again")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader lease (in-cluster: the operator's own)")
	agent := flag.String("agent-service-account", "bpfleet-system/bpfleet-agent", "namespace/name of the agents' service account, granted get on exactly the Secrets node specs name; its namespace holds the agents' Leases")
	secretNamespaces := flag.String("secret-namespaces", "bpfleet-system", "comma-separated namespaces whose Secrets programs may name (pull secrets, signature keys): the operator reads and grants the agents Secrets there only, and needs a RoleBinding to the ClusterRole bpfleet-operator-secret-access in each; a program naming a Secret elsewhere is Stalled (SecretNamespaceNotAllowed)")
	var keys keyRefs
	flag.Var(&keys, "image-verify-key", `a Secret "namespace/name[/key]" holding a cosign public key (key default cosign.pub); repeat for several. Every image must then be signed by one of them`)
	required := flag.Bool("image-verify-required", true, "with --image-verify-key: refuse unsigned images (false: load them, but refuse images whose signatures all fail)")
	qps := flag.Float64("kube-api-qps", 100, "requests per second to the API server (client-side limit; the server's priority and fairness still applies)")
	burst := flag.Int("kube-api-burst", 200, "burst of requests to the API server")
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	memprofile.EnableIfServed(o.PprofAddr)
	ns, name, ok := strings.Cut(*agent, "/")
	if !ok || ns == "" || name == "" {
		fmt.Fprintf(os.Stderr, "--agent-service-account %q: want namespace/name\n", *agent)
		os.Exit(2)
	}
	o.AgentServiceAccount = types.NamespacedName{Namespace: ns, Name: name}
	for _, s := range strings.Split(*secretNamespaces, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.SecretNamespaces = append(o.SecretNamespaces, s)
		}
	}
	if len(o.SecretNamespaces) == 0 {
		fmt.Fprintln(os.Stderr, "--secret-namespaces: want at least one namespace")
		os.Exit(2)
	}
	if len(keys) > 0 {
		o.Verify = &bpfleetv1.ImageVerification{Keys: keys, Required: required}
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")
	log.Info("starting bpfleet-operator", buildinfo.Get().KeysAndValues()...)

	cfg := ctrl.GetConfigOrDie()
	// A spec write per node: at a thousand nodes, controller-runtime's
	// default of 20 per second alone would take most of a minute.
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	mgr, err := controllers.NewManager(cfg, scheme.New(), o)
	if err == nil {
		err = addProbes(mgr)
	}
	if err == nil {
		err = mgr.Start(ctrl.SetupSignalHandler())
	}
	if err != nil {
		log.Error(err, "operator failed")
		os.Exit(1)
	}
}

// keyRefs are --image-verify-key values.
type keyRefs []bpfleetv1.KeyReference

func (k *keyRefs) String() string { return fmt.Sprint(len(*k), " keys") }

func (k *keyRefs) Set(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("%q: want namespace/name or namespace/name/key", s)
	}
	ref := bpfleetv1.KeyReference{SecretReference: bpfleetv1.SecretReference{Namespace: parts[0], Name: parts[1]}, Key: "cosign.pub"}
	if len(parts) == 3 && parts[2] != "" {
		ref.Key = parts[2]
	}
	*k = append(*k, ref)
	return nil
}

func addProbes(mgr ctrl.Manager) error {
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("informer caches not synced")
		}
		return nil
	})
}
