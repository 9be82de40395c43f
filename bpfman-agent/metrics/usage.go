package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	mapEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bpfleet_agent_map_entries",
		Help: "Entries in the map a MapPolicy manages on this node.",
	}, []string{"policy", "map"})
	mapMaxEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bpfleet_agent_map_max_entries",
		Help: "Max entries of the map a MapPolicy manages on this node.",
	}, []string{"policy", "map"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(mapEntries, mapMaxEntries)
}

// SetMapUsage records how full a policy's map is.
func SetMapUsage(policy, mapName string, entries, max int) {
	mapEntries.WithLabelValues(policy, mapName).Set(float64(entries))
	mapMaxEntries.WithLabelValues(policy, mapName).Set(float64(max))
}

// ForgetPolicy drops the usage series of a policy that left the node.
func ForgetPolicy(policy string) {
	mapEntries.DeletePartialMatch(prometheus.Labels{"policy": policy})
	mapMaxEntries.DeletePartialMatch(prometheus.Labels{"policy": policy})
}
