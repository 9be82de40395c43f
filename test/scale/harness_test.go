// Package scale measures the control plane at many nodes: the real
// operator binary and a real kube-apiserver + etcd, with N simulated
// agents. The agents are the one stand-in here: each watches its own
// node's NodeProgramSet, as a real agent does, and reports every program
// loaded and Ready at its generation without touching the kernel — what is
// measured is the operator and the API server, not loading.
package scale

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/scheme"
	"github.com/bpfleet/bpfleet/internal/testproc"
)

// result is what one run measured.
type result struct {
	nodes, programs int
	converge        time.Duration
	requests        map[string]float64 // "VERB resource[/subresource]" -> count during the run
	sets            int                // NodeProgramSet objects
	statusWrites    float64            // writes of NodeProgramSet status, by the agents
	specWrites      float64            // writes of NodeProgramSet spec, by the operator
	operatorCPU     time.Duration
	operatorRSS     float64 // MiB, VmHWM (peak)
}

// run registers n nodes with simulated agents, applies m programs selecting
// every node, and measures until every program is Ready on every node.
func run(tb testing.TB, n, m int) result {
	plane, err := controlplane.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = plane.Stop() })
	dir := tb.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := plane.Kubeconfig(kubeconfig); err != nil {
		tb.Fatal(err)
	}
	// Real agents each have their own client and rate limit; the simulated
	// ones share this client, so it has none.
	agentsConfig := rest.CopyConfig(plane.Config)
	agentsConfig.QPS, agentsConfig.Burst = -1, 0
	c, err := client.NewWithWatch(agentsConfig, client.Options{Scheme: scheme.New()})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	nodes := registerNodes(tb, c, n)
	operator := startOperator(tb, plane.Root, dir, kubeconfig)
	var agents sync.WaitGroup
	for _, node := range nodes {
		agents.Go(func() { simulatedAgent(ctx, c, node) })
	}
	tb.Cleanup(agents.Wait)
	tb.Cleanup(cancel)
	waitSets(tb, c, n)

	before := apiRequests(tb, plane)
	cpu0 := testproc.CPU(tb, operator)
	start := time.Now()
	for i := range m {
		if err := c.Create(ctx, program(i)); err != nil {
			tb.Fatal(err)
		}
	}
	waitAllReady(tb, c, n, m)
	res := result{nodes: n, programs: m, converge: time.Since(start)}
	res.operatorCPU = testproc.CPU(tb, operator) - cpu0
	res.operatorRSS = testproc.PeakRSS(tb, operator)
	res.requests = diff(apiRequests(tb, plane), before)
	res.sets = n
	for k, v := range res.requests {
		switch {
		case strings.HasSuffix(k, " nodeprogramsets/status") && !strings.HasPrefix(k, "GET") && !strings.HasPrefix(k, "LIST") && !strings.HasPrefix(k, "WATCH"):
			res.statusWrites += v
		case strings.HasSuffix(k, " nodeprogramsets") && (strings.HasPrefix(k, "PATCH") || strings.HasPrefix(k, "UPDATE") || strings.HasPrefix(k, "APPLY")):
			res.specWrites += v
		}
	}
	return res
}

// program is a TracepointProgram selecting every node, loading from a path
// (nothing is loaded: the agents are simulated).
func program(i int) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%03d", i)},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ByteCode:    bpfleetv1.ByteCodeSource{Path: "/opt/bpf/counter.o"},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

func registerNodes(tb testing.TB, c client.Client, n int) []string {
	names := make([]string, n)
	var g errgroup.Group
	g.SetLimit(32)
	for i := range names {
		names[i] = fmt.Sprintf("node-%04d", i)
		g.Go(func() error {
			return c.Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: names[i]}})
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
	return names
}

// simulatedAgent watches its node's set and, for each spec generation,
// reports every program Ready at its generation in one status write, as a
// real agent's pass does; and, like a real agent, it beats (LastSync) once
// a minute, so the operator never counts it silent.
func simulatedAgent(ctx context.Context, c client.WithWatch, node string) {
	beat := time.NewTicker(time.Minute - time.Duration(rand.IntN(10000))*time.Millisecond)
	defer beat.Stop()
	var last *bpfleetv1.NodeProgramSet
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, &bpfleetv1.NodeProgramSetList{}, client.MatchingFields{"metadata.name": node})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		last = follow(ctx, c, w, beat.C, last)
		w.Stop()
	}
}

// follow reports on each new spec generation the watch w delivers, and on
// each beat, until w ends; it returns the last set seen.
func follow(ctx context.Context, c client.Client, w watch.Interface, beat <-chan time.Time, last *bpfleetv1.NodeProgramSet) *bpfleetv1.NodeProgramSet {
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return last
			}
			set, isSet := ev.Object.(*bpfleetv1.NodeProgramSet)
			if !isSet || ev.Type == watch.Deleted {
				continue
			}
			last = set
			if set.Status.ObservedGeneration != set.Generation {
				_ = report(ctx, c, set.DeepCopy())
			}
		case <-beat:
			if last != nil {
				_ = report(ctx, c, last.DeepCopy())
			}
		case <-ctx.Done():
			return last
		}
	}
}

func report(ctx context.Context, c client.Client, set *bpfleetv1.NodeProgramSet) error {
	base := set.DeepCopy()
	now := metav1.Now()
	set.Status.ObservedGeneration, set.Status.LastSync = set.Generation, &now
	set.Status.Programs = nil
	for _, np := range set.Spec.Programs {
		set.Status.Programs = append(set.Status.Programs, bpfleetv1.NodeProgramStatus{
			UID: np.UID, Name: np.Name, Kind: np.Kind, Generation: np.Generation,
			State: bpfleetv1.StateReady, ProgramID: 1,
		})
	}
	return c.Status().Patch(ctx, set, client.MergeFrom(base))
}

// waitSets waits until every node has its set and its agent reported on it.
func waitSets(tb testing.TB, c client.Client, n int) {
	poll(tb, fmt.Sprintf("%d node program sets, reported", n), 5*time.Minute, func(ctx context.Context) (bool, error) {
		var sets bpfleetv1.NodeProgramSetList
		if err := c.List(ctx, &sets); err != nil || len(sets.Items) != n {
			return false, err
		}
		for _, s := range sets.Items {
			if s.Status.ObservedGeneration != s.Generation {
				return false, nil
			}
		}
		return true, nil
	})
}

func waitAllReady(tb testing.TB, c client.Client, n, m int) {
	poll(tb, fmt.Sprintf("%d programs Ready on %d nodes", m, n), 10*time.Minute, func(ctx context.Context) (bool, error) {
		var list bpfleetv1.TracepointProgramList
		if err := c.List(ctx, &list); err != nil {
			return false, err
		}
		ready := 0
		for _, p := range list.Items {
			if meta.IsStatusConditionTrue(p.Status.Conditions, bpfleetv1.ConditionReady) &&
				p.Status.ObservedGeneration == p.Generation && p.Status.Nodes.Ready == int32(n) {
				ready++
			}
		}
		return ready == m, nil
	})
}

func poll(tb testing.TB, what string, timeout time.Duration, cond func(context.Context) (bool, error)) {
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true,
		func(ctx context.Context) (bool, error) {
			ok, err := cond(ctx)
			last = err
			return ok, nil
		})
	if err != nil {
		tb.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}

// startOperator builds and runs the operator binary against the API server.
func startOperator(tb testing.TB, root, dir, kubeconfig string) *exec.Cmd {
	bin := filepath.Join(dir, "bpfleet-operator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/bpfleet-operator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/bpfleet-operator: %v\n%s", err, out)
	}
	return testproc.Start(tb, dir, bin, []string{"KUBECONFIG=" + kubeconfig}, "--metrics-bind-address=0", "--health-probe-bind-address=0")
}

// apiRequests reads apiserver_request_total from the API server's own
// metrics, by "VERB resource[/subresource]".
func apiRequests(tb testing.TB, plane *controlplane.Plane) map[string]float64 {
	cs, err := kubernetes.NewForConfig(plane.Config)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	f := families["apiserver_request_total"]
	if f == nil {
		tb.Fatal("no apiserver_request_total in the API server's metrics")
	}
	for _, m := range f.GetMetric() {
		l := labels(m)
		key := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		out[key] += m.GetCounter().GetValue()
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func diff(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// summary is a result in a few lines, for logs and docs/benchmarks.md.
func (r result) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "N=%d nodes, M=%d programs: Ready everywhere in %v\n", r.nodes, r.programs, r.converge.Round(time.Millisecond))
	fmt.Fprintf(&b, "objects: %d NodeProgramSets + %d programs (bpfman-operator: %d per-program-per-node state objects)\n",
		r.sets, r.programs, r.nodes*r.programs)
	fmt.Fprintf(&b, "node status writes: %.0f (%.2f per node); node spec writes: %.0f (%.2f per node)\n",
		r.statusWrites, r.statusWrites/float64(r.nodes), r.specWrites, r.specWrites/float64(r.nodes))
	fmt.Fprintf(&b, "operator: %v CPU, %.1f MiB peak RSS\n", r.operatorCPU, r.operatorRSS)
	total := 0.0
	for _, v := range r.requests {
		total += v
	}
	fmt.Fprintf(&b, "API requests: %.0f total;", total)
	for _, k := range topRequests(r.requests, 8) {
		fmt.Fprintf(&b, " %s=%.0f", k, r.requests[k])
	}
	return b.String()
}

func topRequests(m map[string]float64, n int) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys[:min(n, len(keys))]
}
