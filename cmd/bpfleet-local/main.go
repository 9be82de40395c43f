// Command bpfleet-local runs the whole system on this machine (`make run`):
// kube-apiserver and etcd, a registry holding the example image, the
// operator and the agent against the host kernel. It applies config/samples
// and prints the KUBECONFIG to use. Ctrl-C unloads everything and stops.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/controlplane"
)

func main() {
	host, _ := os.Hostname()
	var o localstack.Options
	flag.StringVar(&o.NodeName, "node-name", host, "name of the local node")
	flag.StringVar(&o.RegistryAddr, "registry", "127.0.0.1:5000", "address of the local OCI registry")
	flag.StringVar(&o.PinRoot, "pin-root", "/sys/fs/bpf/bpfleet", "bpffs directory for the agent's pins")
	flag.StringVar(&o.OperatorAddr, "operator-metrics", "127.0.0.1:8080", "operator metrics address")
	flag.StringVar(&o.AgentAddr, "agent-metrics", "127.0.0.1:8090", "agent metrics address")
	samples := flag.String("samples", "config/samples", "directory of manifests to apply (empty: none)")
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	if err := run(o, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "bpfleet-local:", err)
		os.Exit(1)
	}
}

func run(o localstack.Options, samples string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the agent loads eBPF programs into this kernel: run as root")
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	cache := filepath.Join(root, ".cache")
	o.ImageDir = filepath.Join(cache, "images")
	o.StateDir = filepath.Join(cache, "state")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := localstack.Start(ctx, o)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(cache, "kubeconfig")
	err = s.Plane.Kubeconfig(kubeconfig)
	if err == nil && samples != "" {
		err = applySamples(ctx, s, filepath.Join(root, samples))
	}
	if err == nil {
		banner(s, o, kubeconfig)
		<-ctx.Done()
		fmt.Println("\nstopping: unloading every program")
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if serr := s.Stop(shutdown); serr != nil && err == nil {
		err = serr
	}
	if err == nil {
		fmt.Printf("stopped; nothing left under %s\n", o.PinRoot)
	}
	return err
}

func applySamples(ctx context.Context, s *localstack.Stack, dir string) error {
	names, err := s.ApplySamples(ctx, dir)
	for _, n := range names {
		fmt.Println("applied", n)
	}
	return err
}

// binDir is where this binary is, and with make run the CLI beside it.
func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}

func banner(s *localstack.Stack, o localstack.Options, kubeconfig string) {
	fmt.Printf(`
bpfleet is running on this machine.

  export KUBECONFIG=%s PATH=%s:$PATH
  kubectl get tracepointprograms            # READY True, NODES 1/1
  kubectl get tracepointprograms -o wide    # with the image digest
  kubectl get clusterbpfapplications       # the flow meter: its programs, READY, NODES
  kubectl bpfleet status                    # what the agent loaded, node by node: IDs, digests, errors
  kubectl bpfleet nodes                     # the node's agent, kernel and hooks

  registry:  %s   (example image %s = %s)
  node:      %s   pins under %s   (bpftool prog show; bpftool link show)
  metrics:   operator http://%s/metrics   agent http://%s/metrics

Ctrl-C unloads every program and stops.
`, kubeconfig, binDir(), s.Registry, s.Example, s.Digest, o.NodeName, o.PinRoot, o.OperatorAddr, o.AgentAddr)
}
