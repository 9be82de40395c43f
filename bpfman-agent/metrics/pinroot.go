package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var pinRootLost = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "bpfleet_agent_pin_root_lost_total",
	Help: "Sync passes that found the pin root had lost its pins (its BPF filesystem unmounted, or the root removed), by outcome: reloaded (the root was made again and the programs loaded anew) or unavailable (it could not be: nothing loads until it can).",
}, []string{"outcome"})

func init() { ctrlmetrics.Registry.MustRegister(pinRootLost) }

// Outcomes of a pass that found the pin root lost.
const (
	PinRootReloaded    = "reloaded"
	PinRootUnavailable = "unavailable"
)

// CountPinRootLost records a pass that found the pin root lost.
func CountPinRootLost(outcome string) { pinRootLost.WithLabelValues(outcome).Inc() }
