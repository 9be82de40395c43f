// Command bpfleet-operator runs the cluster-side reconcilers: it schedules
// programs to nodes and reports their status on each program resource.
package main

import (
	"errors"
	"flag"
	"net/http"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

func main() {
	var o controllers.Options
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", `address of the metrics endpoint ("0" disables it)`)
	flag.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "address of the health and readiness probes")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader lease (in-cluster: the operator's own)")
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")

	mgr, err := controllers.NewManager(ctrl.GetConfigOrDie(), scheme.New(), o)
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
