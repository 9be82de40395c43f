package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/internal/scheme"
)

// Images are the image references an install runs.
type Images struct {
	Operator, Agent string
}

// The install's names, as config/default makes them.
const (
	Namespace  = "bpfleet-system"
	Operator   = "bpfleet-operator"
	Agent      = "bpfleet-agent"
	baseImages = "ghcr.io/bpfleet/"
)

// Install installs bpfleet as the README says, `kubectl apply
// --server-side -k` of config/default, through an overlay that sets the
// images (kustomize's images:, as `kustomize edit set image` writes),
// gives the pods the cluster's CA (a private registry's CA, as a user
// whose registry has one does: a ConfigMap, SSL_CERT_DIR) and points them
// at the API server's address: with no kube-proxy here, the kubernetes
// Service's address leads nowhere. It waits until the operator and the
// agent are ready.
func (c *Cluster) Install(ctx context.Context, img Images) error {
	dir := c.sub("install")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base, err := filepath.Rel(dir, filepath.Join(c.root, "config", "default"))
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(c.pki.CAFile)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(c.overlay(base, img)), 0o644); err != nil {
		return err
	}
	if out, err := c.Kubectl("apply", "--server-side", "-k", dir); err != nil {
		return fmt.Errorf("kubectl apply -k config/default: %w\n%s", err, out)
	}
	return c.WaitInstalled(ctx)
}

// overlay is the install's kustomization over base.
func (c *Cluster) overlay(base string, img Images) string {
	var b strings.Builder
	// fifo: config/default's order, which an overlay's default sort
	// would undo (see config/default/kustomization.yaml).
	fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\nsortOptions:\n  order: fifo\n", base)
	b.WriteString("configMapGenerator:\n- name: registry-ca\n  namespace: " + Namespace + "\n  files: [ca.crt]\nimages:\n")
	for name, ref := range map[string]string{"bpfleet-operator": img.Operator, "bpfman-agent": img.Agent} {
		repo, tag, _ := strings.Cut(ref, "@")
		kind := "digest"
		if tag == "" {
			repo, tag = splitTag(ref)
			kind = "newTag"
		}
		fmt.Fprintf(&b, "- name: %s%s\n  newName: %s\n  %s: %s\n", baseImages, name, repo, kind, tag)
	}
	b.WriteString("patches:\n")
	for _, w := range []struct{ kind, name, container string }{{"Deployment", Operator, "operator"}, {"DaemonSet", Agent, "agent"}} {
		fmt.Fprintf(&b, `- patch: |-
    apiVersion: apps/v1
    kind: %s
    metadata: {name: %s, namespace: %s}
    spec:
      template:
        spec:
          containers:
          - name: %s
            env:
            - {name: KUBERNETES_SERVICE_HOST, value: %q}
            - {name: KUBERNETES_SERVICE_PORT, value: "%d"}
            - {name: SSL_CERT_DIR, value: /etc/registry-ca}
            volumeMounts:
            - {name: registry-ca, mountPath: /etc/registry-ca, readOnly: true}
          volumes:
          - {name: registry-ca, configMap: {name: registry-ca}}
`, w.kind, w.name, Namespace, w.container, NodeIP, c.APIPort)
	}
	return b.String()
}

// splitTag splits repo:tag (a port's colon is not a tag's).
func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

// WaitInstalled waits until the operator's Deployment and the agent's
// DaemonSet are rolled out and ready.
func (c *Cluster) WaitInstalled(ctx context.Context) error {
	k, err := c.Client()
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		var ds appsv1.DaemonSet
		if k.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: Operator}, &d) != nil ||
			k.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: Agent}, &ds) != nil {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
				d.Status.ReadyReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas &&
				ds.Status.ObservedGeneration == ds.Generation && ds.Status.DesiredNumberScheduled > 0 &&
				ds.Status.UpdatedNumberScheduled == ds.Status.DesiredNumberScheduled &&
				ds.Status.NumberReady == ds.Status.DesiredNumberScheduled,
			nil
	})
	if err != nil {
		out, _ := c.Kubectl("get", "pods", "-A", "-o", "wide")
		return fmt.Errorf("bpfleet not ready: %w\n%s", err, out)
	}
	return nil
}

// Client is a client of the cluster, as its admin.
func (c *Cluster) Client() (client.WithWatch, error) {
	return client.NewWithWatch(c.Config, client.Options{Scheme: scheme.New()})
}

// Kubectl runs kubectl (bin/kubectl) against the cluster.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	out, err := exec.Command(c.bin("kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

// kubectlIn runs kubectl with stdin.
func (c *Cluster) kubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(c.bin("kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dumpState writes what a failed test needs to be understood: the pods
// and the events, and where the logs are kept (the next Start clears
// them; a copy goes to the repository's .cache/node-logs).
func (c *Cluster) dumpState(w io.Writer) {
	for _, args := range [][]string{{"get", "pods", "-A", "-o", "wide", "--request-timeout=10s"}, {"get", "events", "-A", "--sort-by=.lastTimestamp", "--request-timeout=10s"}} {
		out, _ := c.Kubectl(args...)
		fmt.Fprintf(w, "kubectl %s:\n%s\n", strings.Join(args, " "), out)
	}
	keep := filepath.Join(c.root, ".cache", "node-logs")
	_ = os.RemoveAll(keep)
	if err := exec.Command("cp", "-r", c.sub("logs"), keep).Run(); err == nil {
		_ = exec.Command("cp", "-r", c.sub("log/pods"), filepath.Join(keep, "pods")).Run()
		fmt.Fprintf(w, "the cluster's logs: %s\n", keep)
	}
}
