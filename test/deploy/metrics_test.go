package deploy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/scheme"
	"github.com/bpfleet/bpfleet/internal/scrape/scrapetest"
	"github.com/bpfleet/bpfleet/internal/testproc"
)

// On a cluster the operator serves /metrics over HTTPS to callers the API
// server authorizes, as config/ sets it up: no token is 401, a service
// account without bpfleet-metrics-reader is 403, one bound to it reads.
func TestMetricsNeedAuthorization(t *testing.T) {
	addr := operator(t)

	reader := scrapetest.ReaderToken(t, plane.Config, "bpfleet-system", "prometheus", true)
	stranger := scrapetest.ReaderToken(t, plane.Config, "bpfleet-system", "stranger", false)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not a reader", stranger, http.StatusForbidden},
		{"bpfleet-metrics-reader", reader, http.StatusOK},
	} {
		if got := scrapeStatus(t, addr, tc.token); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}
}

var (
	operatorOnce sync.Once
	operatorAddr string
	operatorErr  error
)

// servedNamespaces are the namespaces whose Secrets the operator of these
// tests serves: its install namespace, as config/default has it, and one
// more, served the way an admin would add it (a RoleBinding there, see
// serveSecretNamespace).
var servedNamespaces = []string{"bpfleet-system", "team-b"}

// operator runs the operator against the API server, as config/default
// installs it (secure metrics, the agents' service account, and its own
// service account: config/'s RBAC is all it may do), once for the
// package's tests; it returns its metrics address.
func operator(t *testing.T) string {
	t.Helper()
	installed(t)
	operatorOnce.Do(func() {
		operatorAddr = testproc.FreeAddr(t)
		var mgr ctrl.Manager
		mgr, operatorErr = controllers.NewManager(serviceAccountConfig("bpfleet-system", "bpfleet-operator"), scheme.New(), controllers.Options{
			MetricsAddr: operatorAddr, MetricsSecure: true, HealthAddr: "0", SecretNamespaces: servedNamespaces,
		})
		if operatorErr == nil {
			go func() { _ = mgr.Start(context.Background()) }() // runs until the test binary exits
		}
	})
	if operatorErr != nil {
		t.Fatal(operatorErr)
	}
	return operatorAddr
}

// scrapeStatus GETs the metrics endpoint (self-signed HTTPS) with token,
// retrying while the server starts, and returns the HTTP status.
func scrapeStatus(t *testing.T, addr, token string) int {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the server's certificate is self-signed
	}}
	var lastErr error
	for range 100 {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://%s/metrics", addr), nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			return resp.StatusCode
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("metrics endpoint never answered: %v", lastErr)
	return 0
}
