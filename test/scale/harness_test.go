// Package scale measures the control plane at many nodes: the real
// operator binary and a real kube-apiserver + etcd, with N simulated
// agents. The agents are the one stand-in here: each watches its own
// node's NodeProgramSet, as a real agent does, and reports every program
// loaded and Ready at its generation without touching the kernel — what is
// measured is the operator and the API server, not loading.
package scale

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/scheme"
	"github.com/bpfleet/bpfleet/internal/testproc"
)

// result is what one run measured.
type result struct {
	nodes, programs int
	converge        time.Duration
	requests        map[string]float64 // "VERB resource[/subresource]" -> count during the run
	// Per-node objects at the end: NodeProgramSets, NodeProgramReports,
	// the agents' Leases.
	sets, reports, leases int
	statusWrites          float64 // writes of NodeProgramReports, by the agents
	specWrites            float64 // writes of NodeProgramSet specs, by the operator
	operatorCPU           time.Duration
	operatorRSS           float64 // MiB, VmHWM (peak)
	// The other processes on the machine: kube-apiserver, etcd, and this
	// one (the simulated agents, and the test's polling).
	apiserverCPU, etcdCPU, agentsCPU time.Duration
	// The machine's CPUs during the run, summed: busy, idle, stolen.
	machine testproc.Machine
	// plugin is what kubectl bpfleet costs on the converged cluster.
	plugin pluginReads
}

// The simulated agents start agentsPerTick at a time, one batch each
// agentTick: real agents start as their nodes come up, and five thousand
// at once open so many connections that their TLS handshakes time out on
// 2 cores.
const (
	agentsPerTick = 50
	agentTick     = 250 * time.Millisecond
)

// run registers n nodes with simulated agents, applies m programs selecting
// every node, and measures until every program is Ready on every node.
func run(tb testing.TB, n, m int) result { return runOf(tb, n, workload{count: m}) }

// workload is what a run creates: count TracepointPrograms, or count
// ClusterBpfApplications of perApp programs each.
type workload struct {
	count, perApp int
}

// object is the workload's i-th program resource.
func (w workload) object(i int) bpfleetv1.Program {
	if w.perApp == 0 {
		return program(i)
	}
	return application(i, w.perApp)
}

// list lists the workload's program resources.
func (w workload) list(ctx context.Context, c client.Client) ([]bpfleetv1.Program, error) {
	kind, _ := bpfleetv1.ProgramKindOf("TracepointProgram")
	if w.perApp > 0 {
		kind, _ = bpfleetv1.ProgramKindOf("ClusterBpfApplication")
	}
	list := kind.NewList()
	if err := c.List(ctx, list); err != nil {
		return nil, err
	}
	var out []bpfleetv1.Program
	err := meta.EachListItem(list, func(o runtime.Object) error {
		out = append(out, o.(bpfleetv1.Program))
		return nil
	})
	return out, err
}

// runOf runs n simulated nodes and the workload w.
func runOf(tb testing.TB, n int, w workload) result {
	m := w.count
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
	setup := time.Now()
	nodes := registerNodes(tb, c, n)
	tb.Logf("%d nodes registered in %v", n, time.Since(setup).Round(time.Second))
	operator, operatorPprof := startOperator(tb, plane.Root, dir, kubeconfig)
	cs, err := kubernetes.NewForConfig(agentsConfig)
	if err != nil {
		tb.Fatal(err)
	}
	var agents sync.WaitGroup
	for i, node := range nodes {
		agents.Go(func() { simulatedAgent(ctx, c, cs, node) })
		if i%agentsPerTick == agentsPerTick-1 {
			time.Sleep(agentTick)
		}
	}
	tb.Cleanup(agents.Wait)
	tb.Cleanup(cancel)
	tb.Cleanup(func() { stopping.Store(true) })
	stopping.Store(false)
	waitSets(tb, c, n)
	tb.Logf("%d agents running, each reported on its set, %v after the start", n, time.Since(setup).Round(time.Second))

	apiserver, etcd := controlPlane(tb, plane)
	before := apiRequests(tb, plane)
	cpu0 := testproc.CPU(tb, operator)
	api0, etcd0, self0 := testproc.CPUOf(tb, apiserver), testproc.CPUOf(tb, etcd), testproc.CPUOf(tb, os.Getpid())
	machine0 := testproc.MachineCPU(tb)
	start := time.Now()
	profiled := profiles(tb, plane, operatorPprof)
	for i := range m {
		if err := c.Create(ctx, w.object(i)); err != nil {
			tb.Fatal(err)
		}
	}
	notReady := waitAllReady(tb, c, n, w)
	res := result{nodes: n, programs: m, converge: time.Since(start)}
	heapProfile(tb, operatorPprof)
	res.operatorCPU = testproc.CPU(tb, operator) - cpu0
	res.apiserverCPU = testproc.CPUOf(tb, apiserver) - api0
	res.etcdCPU = testproc.CPUOf(tb, etcd) - etcd0
	res.agentsCPU = testproc.CPUOf(tb, os.Getpid()) - self0
	res.machine = testproc.MachineCPU(tb).Sub(machine0)
	res.operatorRSS = testproc.PeakRSS(tb, operator)
	res.requests = diff(apiRequests(tb, plane), before)
	profiled.Wait()
	res.sets, res.reports, res.leases = count(tb, c)
	for k, v := range res.requests {
		switch {
		case writes(k, "nodeprogramreports"):
			res.statusWrites += v
		case writes(k, "nodeprogramsets"):
			res.specWrites += v
		}
	}
	if notReady != nil {
		tb.Fatalf("%v; the figures until then:\n%s", notReady, res.summary())
	}
	res.plugin = measurePlugin(tb, c, plane.Root, kubeconfig, w.object(0))
	return res
}

// profiles writes CPU profiles of the first 40 s of the run (or
// $BPFLEET_SCALE_PROFILE_SECONDS; the API server ends its requests after a
// minute): the API server's to
// $BPFLEET_SCALE_APISERVER_PROFILE and the operator's to
// $BPFLEET_SCALE_OPERATOR_PROFILE, those that are set. operatorPprof is
// the operator's pprof address ("" if it serves none).
func profiles(tb testing.TB, plane *controlplane.Plane, operatorPprof string) *sync.WaitGroup {
	var wg sync.WaitGroup
	cs, err := kubernetes.NewForConfig(plane.Config)
	if err != nil {
		tb.Fatal(err)
	}
	seconds, err := strconv.Atoi(cmp.Or(os.Getenv("BPFLEET_SCALE_PROFILE_SECONDS"), "40"))
	if err != nil {
		tb.Fatalf("BPFLEET_SCALE_PROFILE_SECONDS: %v", err)
	}
	get := map[string]func() ([]byte, error){
		"BPFLEET_SCALE_APISERVER_PROFILE": func() ([]byte, error) {
			return cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(seconds)).
				Timeout(time.Duration(seconds)*time.Second + time.Minute).DoRaw(context.Background())
		},
		"BPFLEET_SCALE_OPERATOR_PROFILE": func() ([]byte, error) {
			resp, err := http.Get("http://" + operatorPprof + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds))
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			return io.ReadAll(resp.Body)
		},
	}
	for env, fetch := range get {
		file := os.Getenv(env)
		if file == "" {
			continue
		}
		wg.Go(func() {
			raw, err := fetch()
			if err == nil {
				err = os.WriteFile(file, raw, 0o644)
			}
			if err != nil {
				tb.Errorf("profile for %s: %v", env, err)
			}
		})
	}
	return &wg
}

// heapProfile writes the operator's heap profile (what it holds now, and
// what it allocated since its start) to $BPFLEET_SCALE_OPERATOR_HEAP_PROFILE,
// if set; operatorPprof is the operator's pprof address.
func heapProfile(tb testing.TB, operatorPprof string) {
	file := os.Getenv("BPFLEET_SCALE_OPERATOR_HEAP_PROFILE")
	if file == "" {
		return
	}
	resp, err := http.Get("http://" + operatorPprof + "/debug/pprof/heap")
	if err != nil {
		tb.Errorf("operator heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, raw, 0o644)
	}
	if err != nil {
		tb.Errorf("operator heap profile: %v", err)
	}
}

// count counts the per-node objects, by their metadata: a full list of
// 5,000 sets and reports of 100 programs each would be a few hundred MB.
func count(tb testing.TB, c client.Client) (sets, reports, leases int) {
	n := func(gvk schema.GroupVersionKind, opts ...client.ListOption) int {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk)
		if err := c.List(context.Background(), list, opts...); err != nil {
			tb.Fatal(err)
		}
		return len(list.Items)
	}
	return n(bpfleetv1.GroupVersion.WithKind("NodeProgramSetList")), n(bpfleetv1.GroupVersion.WithKind("NodeProgramReportList")),
		n(coordinationv1.SchemeGroupVersion.WithKind("LeaseList"), client.InNamespace(controlplane.Namespace), client.HasLabels{bpfleetv1.AgentLeaseLabel})
}

// writes reports whether the requests counted under key ("VERB
// resource") write resource.
func writes(key, resource string) bool {
	verb, res, _ := strings.Cut(key, " ")
	return res == resource && slices.Contains([]string{"POST", "PATCH", "PUT", "APPLY"}, verb)
}

// controlPlane finds the pids of the run's kube-apiserver (by its port)
// and etcd (by the address the API server uses).
func controlPlane(tb testing.TB, plane *controlplane.Plane) (apiserver, etcd int) {
	u, err := url.Parse(plane.Config.Host)
	if err != nil {
		tb.Fatal(err)
	}
	apiserver = testproc.Find(tb, "kube-apiserver", "--secure-port="+u.Port())
	for _, a := range testproc.Args(apiserver) {
		if servers, ok := strings.CutPrefix(a, "--etcd-servers="); ok {
			return apiserver, testproc.Find(tb, "etcd", "--listen-client-urls="+servers)
		}
	}
	tb.Fatal("the API server names no --etcd-servers")
	return 0, 0
}

// program is a TracepointProgram selecting every node, loading from a path
// (nothing is loaded: the agents are simulated).
func program(i int) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%03d", i)},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode: bpfleetv1.ByteCodeSource{Path: "/opt/bpf/counter.o"},
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

// application is the i-th application of the scale runs: perApp
// tracepoint programs of one object.
func application(i, perApp int) *bpfleetv1.ClusterBpfApplication {
	app := &bpfleetv1.ClusterBpfApplication{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-app-%03d", i)},
		Spec: bpfleetv1.ClusterBpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{ByteCode: bpfleetv1.ByteCodeSource{Path: "/opt/bpf/app.o"}},
		},
	}
	for j := range perApp {
		app.Spec.Programs = append(app.Spec.Programs, bpfleetv1.ApplicationProgram{
			Name: fmt.Sprintf("count_%d", j), Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		})
	}
	return app
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

// simulatedAgent gets (or makes) its node's set, renews its Lease as a
// real agent does (nodereport.Heartbeat), and watches the set and its report
// as a real agent does: for each spec generation it reports every program
// Ready at its generation in one write of its report, with the agent's
// own code (nodereport.WriteReport).
func simulatedAgent(ctx context.Context, c client.WithWatch, cs kubernetes.Interface, node string) {
	set, err := ownSet(ctx, c, node)
	if err != nil {
		return // the run is over
	}
	var background sync.WaitGroup
	owner := func() (types.UID, error) { return set.UID, nil }
	background.Go(func() { nodereport.Heartbeat(ctx, cs, controlplane.Namespace, node, owner) })
	background.Go(func() { watchReport(ctx, c, node) })
	defer background.Wait()
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, &bpfleetv1.NodeProgramSetList{}, client.MatchingFields{"metadata.name": node})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		follow(ctx, c, w)
		w.Stop()
	}
}

// watchReport holds the watch a real agent's cache has on its own report,
// of its metadata only (nodesync/written.go); the events are dropped (a
// real agent acts only on a deletion).
func watchReport(ctx context.Context, c client.WithWatch, node string) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(bpfleetv1.GroupVersion.WithKind("NodeProgramReportList"))
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, list, client.MatchingFields{"metadata.name": node})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for range w.ResultChan() {
		}
	}
}

// ownSet gets node's set as a real agent does (nodereport.OwnSet),
// creating it empty if the operator has not yet; it tries again each
// second until it has it or ctx ends.
func ownSet(ctx context.Context, c client.Client, node string) (*bpfleetv1.NodeProgramSet, error) {
	for {
		set, err := nodereport.OwnSet(ctx, c, c, node)
		if err == nil || ctx.Err() != nil {
			return set, err
		}
		time.Sleep(time.Second)
	}
}

// follow reports on each new spec generation the watch w delivers, until
// w ends. A report that fails is tried again a second later, as a real
// agent's requeue would (a report lost to an overloaded API server would
// otherwise leave its node behind for good).
func follow(ctx context.Context, c client.Client, w watch.Interface) {
	var reported int64
	var latest *bpfleetv1.NodeProgramSet
	var retry <-chan time.Time
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			if set, isSet := ev.Object.(*bpfleetv1.NodeProgramSet); isSet && ev.Type != watch.Deleted {
				latest = set
			}
		case <-retry:
		case <-ctx.Done():
			return
		}
		retry = nil
		if latest == nil || latest.Generation == reported {
			continue
		}
		if report(ctx, c, latest) == nil {
			reported = latest.Generation
		} else {
			retry = time.After(time.Second)
		}
	}
}

func report(ctx context.Context, c client.Client, set *bpfleetv1.NodeProgramSet) error {
	now := metav1.Now()
	r := &bpfleetv1.NodeProgramReport{Status: bpfleetv1.NodeProgramReportStatus{
		SetGeneration: set.Generation, LastSync: &now, Programs: reports(set),
	}}
	return nodereport.WriteReport(ctx, c, set, r)
}

// reports are what a real agent reports for set's programs, all loaded:
// tracepoint programs here, alone or in applications.
func reports(set *bpfleetv1.NodeProgramSet) []bpfleetv1.NodeProgramStatus {
	var out []bpfleetv1.NodeProgramStatus
	link := []bpfleetv1.LinkStatus{{Target: "main", LinkID: 1002, Detail: "syscalls/sys_enter_openat"}}
	for _, np := range set.Spec.Programs {
		st := bpfleetv1.NodeProgramStatus{
			UID: np.UID, Generation: np.Generation, State: bpfleetv1.StateReady, ProgramID: 1000,
			PinPath: "/sys/fs/bpf/bpfleet/" + string(np.UID) + "/0f4e2a91-6c1d7b35",
			Objects: bpfleetv1.KernelObjects{Links: link, MapIDs: map[string]uint32{"counts": 1001}},
		}
		if len(np.Programs) > 0 {
			st.ProgramID, st.Objects.Links = 0, nil
			for i, a := range np.Programs {
				st.Programs = append(st.Programs, bpfleetv1.ProgramAttachmentStatus{
					Name: a.Name, State: bpfleetv1.StateReady, ProgramID: uint32(1000 + i), Links: link,
				})
			}
		}
		out = append(out, st)
	}
	return out
}

// waitSets waits until every node has its set and its agent reported on it.
func waitSets(tb testing.TB, c client.Client, n int) {
	err := poll(fmt.Sprintf("%d node program sets, reported", n), 10*time.Minute, func(ctx context.Context) (bool, error) {
		var sets bpfleetv1.NodeProgramSetList
		if err := c.List(ctx, &sets); err != nil || len(sets.Items) != n {
			return false, err
		}
		var reports bpfleetv1.NodeProgramReportList
		if err := c.List(ctx, &reports); err != nil || len(reports.Items) != n {
			return false, err
		}
		observed := map[string]int64{}
		for _, r := range reports.Items {
			observed[r.Name] = r.Status.SetGeneration
		}
		for _, s := range sets.Items {
			if observed[s.Name] != s.Generation {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// waitAllReady waits until the m programs are Ready on the n nodes; it
// says so if they are not within 10 minutes.
func waitAllReady(tb testing.TB, c client.Client, n int, w workload) error {
	start, logged := time.Now(), time.Now()
	m := w.count
	return poll(fmt.Sprintf("%d programs Ready on %d nodes", m, n), 10*time.Minute, func(ctx context.Context) (bool, error) {
		list, err := w.list(ctx, c)
		if err != nil {
			return false, err
		}
		ready, nodes := 0, 0
		for _, p := range list {
			st := p.ProgramStatus()
			nodes += int(st.Nodes.Ready)
			if meta.IsStatusConditionTrue(st.Conditions, bpfleetv1.ConditionReady) &&
				st.ObservedGeneration == p.GetGeneration() && st.Nodes.Ready == int32(n) {
				ready++
			}
		}
		if time.Since(logged) > 15*time.Second {
			logged = time.Now()
			tb.Logf("%v: %d/%d programs Ready everywhere, %d/%d program-nodes Ready", time.Since(start).Round(time.Second), ready, m, nodes, n*m)
		}
		return ready == m, nil
	})
}

// poll calls cond each second until it holds, or says that it did not
// within timeout.
func poll(what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true,
		func(ctx context.Context) (bool, error) {
			ok, err := cond(ctx)
			last = err
			return ok, nil
		})
	if err != nil {
		return fmt.Errorf("timed out waiting for %s (last error: %v)", what, last)
	}
	return nil
}

// startOperator builds and runs the operator binary against the API
// server, serving pprof on the address it returns when
// $BPFLEET_SCALE_OPERATOR_PROFILE or $BPFLEET_SCALE_OPERATOR_HEAP_PROFILE
// is set ("" otherwise).
func startOperator(tb testing.TB, root, dir, kubeconfig string) (*exec.Cmd, string) {
	bin := filepath.Join(dir, "bpfleet-operator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/bpfleet-operator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/bpfleet-operator: %v\n%s", err, out)
	}
	args := []string{"--metrics-bind-address=0", "--health-probe-bind-address=0"}
	pprof := ""
	if os.Getenv("BPFLEET_SCALE_OPERATOR_PROFILE") != "" || os.Getenv("BPFLEET_SCALE_OPERATOR_HEAP_PROFILE") != "" {
		pprof = testproc.FreeAddr(tb)
		args = append(args, "--pprof-bind-address="+pprof)
	}
	return testproc.Start(tb, dir, bin, []string{"KUBECONFIG=" + kubeconfig}, args...), pprof
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
	fmt.Fprintf(&b, "objects: %d NodeProgramSets + %d NodeProgramReports + %d Leases + %d programs (bpfman-operator: %d per-program-per-node state objects)\n",
		r.sets, r.reports, r.leases, r.programs, r.nodes*r.programs)
	fmt.Fprintf(&b, "node report writes: %.0f (%.2f per node); node spec writes: %.0f (%.2f per node)\n",
		r.statusWrites, r.statusWrites/float64(r.nodes), r.specWrites, r.specWrites/float64(r.nodes))
	fmt.Fprintf(&b, "operator: %v CPU, %.1f MiB peak RSS; kube-apiserver %v CPU, etcd %v, simulated agents %v\n",
		r.operatorCPU, r.operatorRSS, r.apiserverCPU, r.etcdCPU, r.agentsCPU)
	fmt.Fprintf(&b, "machine: %v busy, %v idle, %v stolen by the hypervisor (CPU time, all CPUs)\n",
		r.machine.Busy.Round(time.Second/10), r.machine.Idle.Round(time.Second/10), r.machine.Steal.Round(time.Second/10))
	total := 0.0
	for _, v := range r.requests {
		total += v
	}
	p := r.plugin
	fmt.Fprintf(&b, "kubectl bpfleet: status %v (allocates %.1f MiB), nodes %v, one program's status %v; the two lists alone %v, kubectl get nodeprogramreports -o json %v\n",
		p.status.Round(time.Millisecond), p.statusAllocMiB, p.nodes.Round(time.Millisecond), p.one.Round(time.Millisecond),
		p.rawLists.Round(time.Millisecond), p.kubectlGet.Round(time.Millisecond))
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
