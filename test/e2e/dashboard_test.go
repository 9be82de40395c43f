package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/scrape/scrapetest"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// Every PromQL expression of config/grafana/bpfleet.json returns data from
// a real Prometheus server (Debian's) scraping the operator and agent of
// a run that loads, rejects, pulls, checks signatures and fills a map.
func TestDashboardQueriesReturnData(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	prom := scrapetest.StartPrometheus(t, fmt.Sprintf("- job_name: bpfleet\n  static_configs: [{targets: [%q]}]\n", serveRegistry(t)))

	metered := counter("dash-metered", s.Example, nil)
	metered.Spec.RunStats = true
	pulled := counter("dash-pulled", pushIndex(t, s.Registry+"/dash/pulled:v1"), nil)
	key := keySecret(t, s.Client, "dash-key")
	no := false
	pulled.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{key.ref}, Required: &no}
	rejected := rejected(t, "dash-rejected")
	for _, p := range []*bpfleetv1.TracepointProgram{metered, pulled, rejected} {
		if err := s.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, s.Client, p) })
	}
	host1, _, _, _ := testkernel.VethPair(t)
	x := xdpFilter(s, "dash-filter", host1)
	apply(t, s, x)
	mp := blocklist("dash-blocklist", x.Name, entry(`{"addr": "192.0.2.1"}`, `{}`))
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, s.Client, mp) })
	waitReady(t, s.Client, metered.Name)
	waitReady(t, s.Client, pulled.Name)
	waitPolicy(t, s.Client, mp, "MapPolicy Ready", policyReady)
	poll(t, "a verifier rejection counted", func(context.Context) bool {
		return metricValue(t, "bpfleet_agent_verifier_rejections_total", nil) > 0
	}, func() string { return "none" })

	exprs := dashboardQueries(t)
	var empty []string
	poll(t, "every dashboard query to return data", func(context.Context) bool {
		_, _ = os.ReadFile("/proc/self/status") // the metered program runs
		empty = empty[:0]
		for _, e := range exprs {
			if !prom.HasData(t, e) {
				empty = append(empty, e)
			}
		}
		return len(empty) == 0
	}, func() string {
		return fmt.Sprintf("%d of %d queries return nothing:\n%s", len(empty), len(exprs), strings.Join(empty, "\n"))
	})
}

// dashboardQueries returns every PromQL expression of the dashboard, with
// Grafana's interval variables set as Grafana would for a short range.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../config/grafana/bpfleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$__rate_interval", "30s", "$__range", "5m")
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, vars.Replace(tg.Expr))
		}
	}
	if len(out) < 10 {
		t.Fatalf("%d queries in the dashboard", len(out))
	}
	return out
}

// serveRegistry serves this process's metrics registry — where the stack's
// operator and agent publish — on 127.0.0.1, and returns its address.
func serveRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}
