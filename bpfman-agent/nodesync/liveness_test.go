package nodesync

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/yaml"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// A pass that has run for longer than twice the pull timeout fails the
// liveness check (its worker is stuck: the kubelet restarts the agent); a
// pass within it, or none, passes (issue 14).
func TestLivenessFailsOnAStuckPass(t *testing.T) {
	r := Reconciler{StuckAfter: Options{}.stuckAfter()}
	if r.StuckAfter != 2*image.DefaultPullTimeout {
		t.Errorf("stuck after %v by default, want twice the pull timeout (%v)", r.StuckAfter, 2*image.DefaultPullTimeout)
	}
	if err := r.livez(nil); err != nil {
		t.Errorf("between passes: %v", err)
	}
	r.passStart.Store(time.Now().Add(-image.DefaultPullTimeout - time.Minute).UnixNano())
	if err := r.livez(nil); err != nil {
		t.Errorf("a pass holding a pull as long as its timeout allows: %v", err)
	}
	r.passStart.Store(time.Now().Add(-r.StuckAfter - time.Minute).UnixNano())
	if err := r.livez(nil); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("a pass running for longer than %v: %v, want an error saying the agent is stuck", r.StuckAfter, err)
	}
}

// The DaemonSet's livenessProbe asks, on the port the agent serves its
// probes on, for a path that fails while a pass is stuck.
func TestDaemonSetLivenessProbeSeesAStuckPass(t *testing.T) {
	c := agentContainer(t)
	probe := c.LivenessProbe
	if probe == nil || probe.HTTPGet == nil {
		t.Fatal("the agent container has no HTTP livenessProbe")
	}
	port := containerPort(t, c, probe.HTTPGet.Port.String())
	if !slices.Contains(c.Args, "--health-probe-bind-address=:"+port) {
		t.Errorf("probe on port %s; the agent's args %v do not serve probes there", port, c.Args)
	}
	r := Reconciler{StuckAfter: Options{}.stuckAfter()}
	if code := probeStatus(&r, probe.HTTPGet.Path); code != http.StatusOK {
		t.Errorf("GET %s between passes: %d, want 200", probe.HTTPGet.Path, code)
	}
	r.passStart.Store(time.Now().Add(-r.StuckAfter - time.Minute).UnixNano())
	if code := probeStatus(&r, probe.HTTPGet.Path); code == http.StatusOK {
		t.Errorf("GET %s with a pass stuck for %v: 200, want a failure so the kubelet restarts the agent", probe.HTTPGet.Path, r.StuckAfter)
	}
	if window := time.Duration(probe.PeriodSeconds*max(probe.FailureThreshold, 3)) * time.Second; window > 5*time.Minute {
		t.Errorf("a stuck agent is restarted %v after the check fails; want a few minutes at most", window)
	}
}

// probeStatus serves path as the manager serves its healthz checks.
func probeStatus(r *Reconciler, path string) int {
	mux := http.NewServeMux()
	h := http.StripPrefix("/healthz", &healthz.Handler{Checks: r.livenessChecks()})
	mux.Handle("/healthz", h)
	mux.Handle("/healthz/", h)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

func agentContainer(t *testing.T) corev1.Container {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "agent", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.Unmarshal(data, &ds); err != nil {
		t.Fatal(err)
	}
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == "agent" {
			return c
		}
	}
	t.Fatal("no container named agent in the DaemonSet")
	return corev1.Container{}
}

func containerPort(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return strconv.Itoa(int(p.ContainerPort))
		}
	}
	t.Fatalf("no container port named %s", name)
	return ""
}

// The images in use are the programs' and the MapPolicies' entries
// artifacts; a path is not an image.
func TestImagesInUse(t *testing.T) {
	spec := bpfleetv1.NodeProgramSetSpec{
		Programs: []bpfleetv1.NodeProgram{{Image: "r/a@sha256:1"}, {Path: "/opt/b.o"}},
		MapPolicies: []bpfleetv1.NodeMapPolicy{
			{EntriesFrom: &bpfleetv1.NodeEntriesSource{Image: "r/e@sha256:2"}}, {Name: "inline"},
		},
	}
	if got := imagesInUse(&spec); !slices.Equal(got, []string{"r/a@sha256:1", "r/e@sha256:2"}) {
		t.Errorf("imagesInUse = %v", got)
	}
}
