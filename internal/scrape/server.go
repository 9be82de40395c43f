package scrape

import (
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// ServerOptions are a manager's metrics endpoint on addr ("0" disables
// it). Secure serves HTTPS and lets through only requests whose bearer
// token the API server authenticates and authorizes for GET /metrics (a
// TokenReview and a SubjectAccessReview, see reviewFilter): what a
// cluster wants. Without it, plain HTTP, as the local stack serves on
// 127.0.0.1.
func ServerOptions(addr string, secure bool) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr}
	if secure {
		o.SecureServing = true
		o.FilterProvider = reviewFilter
	}
	return o
}
