// Package scrapetest helps tests scrape bpfleet's metrics as a cluster's
// Prometheus does: Debian's prometheus server run against given targets,
// its query and targets APIs, and service-account tokens that are (or
// are not) allowed to read /metrics.
package scrapetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bpfleet/bpfleet/internal/testproc"
)

// Prometheus is a prometheus server a test runs, at Addr (host:port).
type Prometheus struct{ Addr string }

// StartPrometheus runs Debian's prometheus on 127.0.0.1 with scrapeConfigs
// (the YAML list under scrape_configs:), scraping and evaluating every
// second, until the test ends.
func StartPrometheus(tb testing.TB, scrapeConfigs string) *Prometheus {
	tb.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		tb.Fatal("prometheus not installed: run hack/install-deps.sh (make test does)")
	}
	dir := tb.TempDir()
	config := "global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n" + scrapeConfigs
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	testproc.Start(tb, dir, bin, nil, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	return &Prometheus{Addr: addr}
}

// HasData reports whether an instant query of expr returns a sample; a
// query Prometheus refuses fails tb.
func (p *Prometheus) HasData(tb testing.TB, expr string) bool {
	tb.Helper()
	resp, err := http.Get("http://" + p.Addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return false // not up yet
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatalf("query %s: %v", expr, err)
	}
	if out.Status != "success" {
		tb.Fatalf("query %s: %s", expr, out.Error)
	}
	return len(out.Data.Result) > 0
}

// Targets says, for each scrape target, its job, health and last error:
// "job: up \"\"; ".
func (p *Prometheus) Targets() string {
	resp, err := http.Get("http://" + p.Addr + "/api/v1/targets")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, tg := range out.Data.ActiveTargets {
		fmt.Fprintf(&b, "%s: %s %q; ", tg.Labels["job"], tg.Health, tg.LastError)
	}
	return b.String()
}

// ReaderToken makes the service account namespace/name, bound to the
// ClusterRole bpfleet-metrics-reader when reader is set (config/rbac), and
// returns a token of it.
func ReaderToken(tb testing.TB, cfg *rest.Config, namespace, name string, reader bool) string {
	tb.Helper()
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatal(err)
	}
	if reader {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: namespace + "-" + name + "-metrics"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "bpfleet-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: namespace}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			tb.Fatal(err)
		}
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return tr.Status.Token
}
