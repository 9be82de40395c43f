package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/bpfleet/bpfleet/internal/scrape/scrapetest"
)

// agentMetricsPort is the agent's HTTPS /metrics port, on the node's
// address (the agent runs on the host's network).
const agentMetricsPort = 8090

// Debian's Prometheus scrapes the agent pod's HTTPS /metrics with a
// service-account token bound to bpfleet-metrics-reader, and gets the
// agent's series; the same scrape with a token of an account that is not
// bound is refused (403).
func TestPrometheusScrapesTheAgentPod(t *testing.T) {
	dir := t.TempDir()
	jobs := ""
	for _, job := range []struct {
		name  string
		bound bool
	}{{"reader", true}, {"stranger", false}} {
		token := filepath.Join(dir, job.name+".token")
		if err := os.WriteFile(token, []byte(scrapetest.ReaderToken(t, install.Config, "default", job.name, job.bound)), 0o600); err != nil {
			t.Fatal(err)
		}
		// The agent's serving certificate is its own, self-signed, as
		// controller-runtime makes it without a cert-manager one.
		jobs += fmt.Sprintf("- job_name: %s\n  scheme: https\n  tls_config: {insecure_skip_verify: true}\n"+
			"  authorization: {credentials_file: %s}\n  static_configs: [{targets: [\"%s:%d\"]}]\n", job.name, token, NodeIP, agentMetricsPort)
	}
	prom := scrapetest.StartPrometheus(t, jobs)

	err := wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(context.Context) (bool, error) {
		return prom.HasData(t, `bpfleet_agent_image_cache_limit_bytes{job="reader"}`), nil
	})
	if err != nil {
		t.Errorf("Prometheus has no agent series from the bound token's job: %v (targets: %s)", err, prom.Targets())
	}
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(context.Context) (bool, error) {
		return strings.Contains(prom.Targets(), `stranger: down "server returned HTTP status 403`), nil
	})
	if err != nil {
		t.Errorf("the unbound token's scrape was not refused with 403 (targets: %s)", prom.Targets())
	}
	if prom.HasData(t, `bpfleet_agent_image_cache_limit_bytes{job="stranger"}`) {
		t.Error("the unbound token's job got the agent's series")
	}
}
