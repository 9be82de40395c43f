package faults

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/internal/testproc"
)

// endpoints are the agent's metrics and health addresses, on loopback.
type endpoints struct{ metrics, health string }

// serveEndpoints has the host's agent serve its metrics and health probes
// on free loopback ports.
func (h *host) serveEndpoints() endpoints {
	h.t.Helper()
	e := endpoints{metrics: testproc.FreeAddr(h.t), health: testproc.FreeAddr(h.t)}
	h.args = append(h.args, "--metrics-bind-address="+e.metrics, "--health-probe-bind-address="+e.health)
	return e
}

var probeClient = &http.Client{Timeout: 5 * time.Second}

// healthy reports whether the agent's liveness endpoint answers 200, and
// what it said.
func (e endpoints) healthy() (bool, string) {
	resp, err := probeClient.Get("http://" + e.health + "/healthz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK, resp.Status + ": " + string(body)
}

// metric is the value of the series name{labels} (labels as the
// exposition writes them, e.g. `outcome="reloaded"`) on the agent's
// metrics endpoint, 0 if absent.
func (e endpoints) metric(t *testing.T, name, labels string) float64 {
	t.Helper()
	resp, err := probeClient.Get("http://" + e.metrics + "/metrics")
	if err != nil {
		t.Fatalf("agent metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	series := name
	if labels != "" {
		series += "{" + labels + "}"
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, line)
			}
			return v
		}
	}
	return 0
}
