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
	signatureChecks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bpfleet_agent_image_signature_checks_total",
		Help: "Signature checks of bytecode images on this node, by result: verified, unsigned, invalid (no signature verifies) or error (the registry could not be read).",
	}, []string{"result"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(mapEntries, mapMaxEntries, signatureChecks)
}

// CountSignatureCheck records one signature check of an image.
func CountSignatureCheck(result string) {
	signatureChecks.WithLabelValues(result).Inc()
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
