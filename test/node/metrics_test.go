package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/bpfleet/bpfleet/internal/testproc"
)

// agentMetricsPort is the agent's HTTPS /metrics port, on the node's
// address (the agent runs on the host's network).
const agentMetricsPort = 8090

// Debian's Prometheus scrapes the agent pod's HTTPS /metrics with a
// service-account token bound to bpfleet-metrics-reader, and gets the
// agent's series; the same scrape with a token of an account that is not
// bound is refused (403).
func TestPrometheusScrapesTheAgentPod(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not installed: run hack/install-deps.sh (make test does)")
	}
	dir := t.TempDir()
	jobs := ""
	for _, job := range []struct {
		name  string
		bound bool
	}{{"reader", true}, {"stranger", false}} {
		token := filepath.Join(dir, job.name+".token")
		if err := os.WriteFile(token, []byte(serviceAccountToken(t, job.name, job.bound)), 0o600); err != nil {
			t.Fatal(err)
		}
		// The agent's serving certificate is its own, self-signed, as
		// controller-runtime makes it without a cert-manager one.
		jobs += fmt.Sprintf("- job_name: %s\n  scheme: https\n  tls_config: {insecure_skip_verify: true}\n"+
			"  authorization: {credentials_file: %s}\n  static_configs: [{targets: [\"%s:%d\"]}]\n", job.name, token, NodeIP, agentMetricsPort)
	}
	config := "global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n" + jobs
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + fmt.Sprint(freePort("127.0.0.1"))
	testproc.Start(t, dir, bin, nil, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)

	err = wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(context.Context) (bool, error) {
		return promHasData(addr, `bpfleet_agent_image_cache_limit_bytes{job="reader"}`), nil
	})
	if err != nil {
		t.Errorf("Prometheus has no agent series from the bound token's job: %v (targets: %s)", err, promTargets(addr))
	}
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(context.Context) (bool, error) {
		return strings.Contains(promTargets(addr), `stranger: down "server returned HTTP status 403`), nil
	})
	if err != nil {
		t.Errorf("the unbound token's scrape was not refused with 403 (targets: %s)", promTargets(addr))
	}
	if promHasData(addr, `bpfleet_agent_image_cache_limit_bytes{job="stranger"}`) {
		t.Error("the unbound token's job got the agent's series")
	}
}

// serviceAccountToken makes the service account name in default (bound to
// bpfleet-metrics-reader if bound) and returns a token of it.
func serviceAccountToken(t *testing.T, name string, bound bool) string {
	t.Helper()
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(install.Config)
	if err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if bound {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "scrape-bpfleet-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "bpfleet-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "default"}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, crb.Name, metav1.DeleteOptions{}) })
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// promHasData reports whether Prometheus at addr answers expr with a
// sample.
func promHasData(addr, expr string) bool {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	return json.NewDecoder(resp.Body).Decode(&out) == nil && len(out.Data.Result) > 0
}

// promTargets is each scrape target's job, health and last error.
func promTargets(addr string) string {
	resp, err := http.Get("http://" + addr + "/api/v1/targets")
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
