package scale

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/cli"
)

// pluginReads is what kubectl bpfleet costs on the converged cluster,
// each the best of three: status and nodes (every node's set and report,
// joined and written as JSON), status of one program, and, as the
// baseline, the two lists they read (raw-lists) and what a user ran before
// the plugin, kubectl get nodeprogramreports -o json.
type pluginReads struct {
	status, nodes, one, rawLists, kubectlGet time.Duration
	// statusAllocMiB is what status allocates.
	statusAllocMiB float64
}

func measurePlugin(tb testing.TB, c client.Client, root, kubeconfig string, one bpfleetv1.Program) pluginReads {
	var r pluginReads
	plugin := func(args ...string) func() {
		return func() {
			argv := append([]string{"kubectl-bpfleet"}, args...)
			if code := cli.Main(append(argv, "--kubeconfig", kubeconfig), strings.NewReader(""), io.Discard, io.Discard); code != 0 {
				tb.Fatalf("kubectl bpfleet %s: exit %d", strings.Join(args, " "), code)
			}
		}
	}
	r.status = best(plugin("status", "-o", "json"))
	r.nodes = best(plugin("nodes", "-o", "json"))
	r.one = best(plugin("status", strings.ToLower(reflect.TypeOf(one).Elem().Name())+"/"+one.GetName(), "-o", "json"))
	r.rawLists = best(func() {
		if err := c.List(context.Background(), &bpfleetv1.NodeProgramSetList{}); err != nil {
			tb.Fatal(err)
		}
		if err := c.List(context.Background(), &bpfleetv1.NodeProgramReportList{}); err != nil {
			tb.Fatal(err)
		}
	})
	r.kubectlGet = best(func() {
		cmd := exec.Command(filepath.Join(root, "bin", "kubectl"), "--kubeconfig", kubeconfig, "get", "nodeprogramreports", "-o", "json")
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			tb.Fatalf("kubectl get nodeprogramreports: %v", err)
		}
	})
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	plugin("status", "-o", "json")()
	runtime.ReadMemStats(&m1)
	r.statusAllocMiB = float64(m1.TotalAlloc-m0.TotalAlloc) / (1 << 20)
	return r
}

// best is the shortest of three runs of f.
func best(f func()) time.Duration {
	var min time.Duration
	for i := range 3 {
		start := time.Now()
		f()
		if d := time.Since(start); i == 0 || d < min {
			min = d
		}
	}
	return min
}
