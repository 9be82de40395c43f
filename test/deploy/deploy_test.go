// Package deploy tests the manifests under config/ against a real
// kube-apiserver: that `kubectl apply --server-side -k config/default`
// installs them, and that the policies they hold do what they say.
package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/jsonpatch"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

var (
	plane      *controlplane.Plane
	kubeconfig string
)

func TestMain(m *testing.M) {
	var err error
	plane, err = controlplane.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "bpfleet-deploy-")
	if err == nil {
		kubeconfig = filepath.Join(dir, "kubeconfig")
		err = plane.Kubeconfig(kubeconfig)
	}
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	_ = plane.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

var applyOnce = sync.OnceValues(func() (string, error) {
	return kubectl("apply", "--server-side", "-k", filepath.Join(plane.Root, "config", "default"))
})

// installed applies config/default once for the tests that need it, and
// waits until the API server enforces its admission policy (it loads
// policies asynchronously).
func installed(t *testing.T) {
	t.Helper()
	if out, err := applyOnce(); err != nil {
		t.Fatalf("kubectl apply --server-side -k config/default: %v\n%s", err, out)
	}
	admin, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	probe := agentClient(t, "probe-node")
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			err := probe.Create(ctx, set("policy-probe"))
			if err == nil {
				_ = admin.Delete(ctx, set("policy-probe"))
			}
			return apierrors.IsForbidden(err) || apierrors.IsInvalid(err), nil
		})
	if err != nil {
		t.Fatal("the agents' admission policy never took effect")
	}
}

// kubectl runs kubectl as the admin.
func kubectl(args ...string) (string, error) { return plane.Kubectl(kubeconfig, args...) }

func TestServerSideApplyOfConfigDefault(t *testing.T) {
	installed(t)
	out, err := kubectl("get", "-n", "bpfleet-system", "deployment,daemonset,serviceaccount,service", "-o", "name")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"deployment.apps/bpfleet-operator", "daemonset.apps/bpfleet-agent",
		"serviceaccount/bpfleet-agent", "serviceaccount/bpfleet-operator"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s missing after apply:\n%s", want, out)
		}
	}
	// A second apply changes nothing and conflicts with nothing.
	if out, err := kubectl("apply", "--server-side", "-k", filepath.Join(plane.Root, "config", "default")); err != nil {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
}

// agentClient acts as the agent of node, with the identity a pod-bound
// service account token gives it.
func agentClient(t *testing.T, node string) client.Client {
	t.Helper()
	c, err := client.New(agentConfig(node), client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func agentConfig(node string) *rest.Config {
	return nodeBoundConfig("bpfleet-system", "bpfleet-agent", node)
}

// nodeBoundConfig acts as the service account ns/name with a token bound
// to a pod on node (none if node is "").
func nodeBoundConfig(ns, name, node string) *rest.Config {
	cfg := serviceAccountConfig(ns, name)
	if node != "" {
		cfg.Impersonate.Extra = map[string][]string{"authentication.kubernetes.io/node-name": {node}}
	}
	return cfg
}

// serviceAccountConfig acts as the service account ns/name, as the API
// server authenticates its tokens.
func serviceAccountConfig(ns, name string) *rest.Config {
	cfg := rest.CopyConfig(plane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	return cfg
}

func set(name string) *bpfleetv1.NodeProgramSet {
	return &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// An agent creates its own node's NodeProgramSet and writes its own node's
// NodeProgramReport, no other: RBAC lets it write the kinds, the admission
// policy pins it to its node.
func TestAgentWritesOnlyItsOwnNode(t *testing.T) {
	installed(t)
	ctx := context.Background()
	agentA := agentClient(t, "node-a")
	if err := agentA.Create(ctx, set("node-a")); err != nil {
		t.Fatalf("agent of node-a creating its own set: %v", err)
	}
	err := agentA.Create(ctx, set("node-b"))
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may write only the NodeProgramSet node-a") {
		t.Fatalf("agent of node-a creating node-b's set: %v, want a denial naming its node", err)
	}

	admin, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, set("node-b")); err != nil {
		t.Fatal(err)
	}
	var setB bpfleetv1.NodeProgramSet
	if err := admin.Get(ctx, client.ObjectKey{Name: "node-b"}, &setB); err != nil {
		t.Fatal(err)
	}
	if err := nodereport.WriteReport(ctx, admin, &setB, &bpfleetv1.NodeProgramReport{}); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name, node string
		allowed    bool
	}{
		{"node-a", "node-a", true}, // creates its report
		{"node-a", "node-a", true}, // patches it
		{"node-b", "node-a", false},
		{"node-b", "", false}, // a token bound to no node
	} {
		var s bpfleetv1.NodeProgramSet
		if err := admin.Get(ctx, client.ObjectKey{Name: tc.name}, &s); err != nil {
			t.Fatal(err)
		}
		report := &bpfleetv1.NodeProgramReport{Status: bpfleetv1.NodeProgramReportStatus{SetGeneration: int64(i + 1)}}
		err := nodereport.WriteReport(ctx, agentClient(t, tc.node), &s, report)
		if tc.allowed && err != nil {
			t.Errorf("agent of %q writing the report of %s: %v", tc.node, tc.name, err)
		}
		if !tc.allowed && err == nil {
			t.Errorf("agent of %q wrote the report of %s", tc.node, tc.name)
		}
	}
	// Its report is owned by its node's set, nothing else.
	foreign, err := jsonpatch.Patch(jsonpatch.Add("/metadata/ownerReferences", []metav1.OwnerReference{{
		APIVersion: bpfleetv1.GroupVersion.String(), Kind: "NodeProgramSet", Name: "node-b", UID: setB.UID}}))
	if err != nil {
		t.Fatal(err)
	}
	ownReport := &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}
	if err := agentA.Patch(ctx, ownReport, foreign); err == nil || !strings.Contains(err.Error(), "owned by its node's NodeProgramSet alone") {
		t.Errorf("agent of node-a giving its report another node's set as owner: %v, want a denial", err)
	}
	base := setB.DeepCopy()
	metav1.SetMetaDataLabel(&setB.ObjectMeta, "changed", "yes")
	if err := agentA.Patch(ctx, &setB, client.MergeFrom(base)); err == nil {
		t.Error("an agent patched a NodeProgramSet; only the operator may")
	}
	if err := agentA.Delete(ctx, set("node-a")); err == nil {
		t.Error("an agent deleted a NodeProgramSet; only the operator may")
	}
	// The spec is the operator's: an agent cannot create its set with one
	// (it would choose which Secrets agents may read).
	withSpec := set("node-c")
	withSpec.Spec.Programs = []bpfleetv1.NodeProgram{{UID: "x", Kind: "TracepointProgram", Name: "x", ProgramName: "x",
		PullSecret: &bpfleetv1.SecretReference{Name: "anything", Namespace: "kube-system"},
		Attach:     bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"})}}
	if err := agentClient(t, "node-c").Create(ctx, withSpec); err == nil || !strings.Contains(err.Error(), "empty spec") {
		t.Errorf("agent created its set with a spec: %v", err)
	}
}

// An agent renews its own node's Lease, through the RBAC and the admission
// policy of config/default, and cannot write another node's.
func TestAgentRenewsOnlyItsOwnLease(t *testing.T) {
	installed(t)
	ctx, cancel := context.WithCancel(context.Background())
	admin, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	own := set("lease-a")
	if err := admin.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(agentConfig("lease-a"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	owner := func() (types.UID, error) { return own.UID, nil }
	go func() { defer close(done); nodereport.Heartbeat(ctx, cs, "bpfleet-system", own.Name, owner) }()
	t.Cleanup(func() { cancel(); <-done })

	var lease coordinationv1.Lease
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return admin.Get(ctx, client.ObjectKey{Namespace: "bpfleet-system", Name: "lease-a"}, &lease) == nil, nil
	})
	if err != nil {
		t.Fatalf("the agent of lease-a made no Lease: %v", err)
	}
	if lease.Labels[bpfleetv1.AgentLeaseLabel] != "lease-a" || lease.Spec.RenewTime == nil ||
		len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != own.UID {
		t.Errorf("Lease %+v: want labelled, renewed and owned by the node's set", lease)
	}
	// The API server loads policies asynchronously: the Lease policy may
	// come a little after the one installed() waited for.
	agentA := agentClient(t, "lease-a")
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		other := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "bpfleet-system", Name: "lease-b"}}
		err := agentA.Create(ctx, other)
		if err == nil {
			_ = admin.Delete(ctx, other)
		}
		return err != nil && strings.Contains(err.Error(), "may write only the Lease lease-a"), nil
	})
	if err != nil {
		t.Errorf("the agent of lease-a may still create lease-b's Lease: %v", err)
	}
}

// The GitOps samples point at paths that exist, and the program they
// deploy applies (server-side, dry run) once bpfleet is installed.
func TestGitOpsSamples(t *testing.T) {
	installed(t)
	dir := filepath.Join(plane.Root, "config", "samples", "gitops")
	for _, f := range []string{"argocd-application.yaml", "flux-kustomization.yaml"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"config/default", "config/samples/gitops/program"} {
			if !strings.Contains(string(raw), path) {
				t.Errorf("%s does not install %s", f, path)
			}
			if _, err := os.Stat(filepath.Join(plane.Root, path)); err != nil {
				t.Error(err)
			}
		}
	}
	if out, err := kubectl("apply", "--server-side", "--dry-run=server", "-k", filepath.Join(dir, "program")); err != nil {
		t.Fatalf("the GitOps sample program does not apply: %v\n%s", err, out)
	}
}

// The ServiceMonitors (their CRD is the Prometheus Operator's, absent
// here) build, and select the metrics Services config/default makes.
func TestPrometheusMonitorsBuild(t *testing.T) {
	installed(t)
	out, err := kubectl("kustomize", filepath.Join(plane.Root, "config", "prometheus"))
	if err != nil {
		t.Fatalf("kubectl kustomize config/prometheus: %v\n%s", err, out)
	}
	services, err := kubectl("get", "services", "-n", "bpfleet-system", "-o", "jsonpath={.items[*].spec.ports[*].name}")
	if err != nil {
		t.Fatalf("%v\n%s", err, services)
	}
	if strings.Count(out, "port: https-metrics") != 2 || strings.Count(services, "https-metrics") != 2 {
		t.Errorf("monitors scrape %q; services name their ports %q", out, services)
	}
}
