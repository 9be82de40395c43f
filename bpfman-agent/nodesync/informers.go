package nodesync

import (
	"os"

	"k8s.io/client-go/features"
)

// ListThenWatch makes the process's informers list, then watch, instead of
// streaming their first state in a watch (client-go's WatchListClient, on
// by default since Kubernetes 1.35), unless KUBE_FEATURE_WatchListClient
// sets it. A streaming start that fails with an error worth retrying (the
// API server is down) waits out its backoff without looking at the
// informer's stop: up to a minute once the server has been down for a
// while, so an agent told to stop then outlived the kubelet's grace period
// (30 s) and was killed. A list is given up at once. The agent's informers
// hold a handful of objects (its report's and the sets' CRD's metadata,
// its node's pods): streaming them spared nothing. The agent's main calls
// it before any informer starts; an agent sharing its process (tests, the
// local stack) leaves the process's setting alone.
func ListThenWatch() {
	if _, set := os.LookupEnv("KUBE_FEATURE_" + string(features.WatchListClient)); !set {
		features.ReplaceFeatureGates(listThenWatch{features.FeatureGates()})
	}
}

// listThenWatch is client-go's feature gates with WatchListClient off.
type listThenWatch struct{ features.Gates }

func (g listThenWatch) Enabled(f features.Feature) bool {
	return f != features.WatchListClient && g.Gates.Enabled(f)
}
