// Command cluster runs a one-node Kubernetes cluster on this machine with
// bpfleet installed from images built from this tree (`make cluster`):
// the real install to play with, beside `make run`. It prints the
// kubeconfig to use; Ctrl-C stops the cluster and leaves nothing behind
// (see test/node).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/test/node"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("the node runs containerd, runc and a kubelet: run as root")
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	start := time.Now()
	in, err := node.Up(ctx, root)
	if err != nil {
		return err
	}
	fmt.Printf(`bpfleet runs on a one-node cluster (up in %v; logs in %s/logs and %s/log/pods).

    export KUBECONFIG=%s
    kubectl get pods -n %s
    kubectl apply -f config/samples/tracepoint_counter.yaml   # image: %s

The node's registry is %s (example bytecode images: bpfleet/<example>:v1).
Ctrl-C stops the cluster.
`, time.Since(start).Round(100*time.Millisecond), in.Dir, in.Dir, in.Kubeconfig, node.Namespace,
		in.Examples["tracepoint-counter"], in.Registry)
	<-ctx.Done()
	fmt.Println("stopping the cluster")
	return in.Down()
}
