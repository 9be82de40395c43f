package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/nodesync"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// A change reaches the canary node first, then one node at a time; a
// change the verifier refuses halts after the canary while every other
// node keeps the previous generation, and a node joining then gets that
// previous generation; a fixed spec resumes; a paused rollout holds a
// change back. Four real agents (goroutines, one per node) share the
// kernel.
func TestRolloutStagesHaltsAndResumes(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	for _, name := range []string{"rollout-canary", "rollout-b", "rollout-c"} {
		extraAgent(t, s, name, map[string]string{"rollout-canary": fmt.Sprint(name == "rollout-canary")})
	}
	one := intstr.FromInt32(1)
	p := counter("rolled", s.Example, map[string]bpfleetv1.GlobalValue{"increment": "1"})
	p.Spec.Rollout = &bpfleetv1.RolloutSpec{MaxUnavailable: &one, Canary: &bpfleetv1.RolloutCanary{
		NodeSelector: metav1.LabelSelector{MatchLabels: map[string]string{"rollout-canary": "true"}},
	}}
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, s.Client, p) })
	p = waitReady(t, s.Client, p.Name)
	if p.Status.Nodes.Ready != 4 || p.Status.Rollout == nil || p.Status.Rollout.StableGeneration != p.Generation {
		t.Fatalf("first generation: nodes %+v, rollout %+v; want Ready on 4 and a stable generation", p.Status.Nodes, p.Status.Rollout)
	}
	good := p.Generation

	// The verifier refuses the new generation on the canary: halted there.
	bad := rejected(t, p.Name)
	patchSpec(t, s.Client, p, func(p *bpfleetv1.TracepointProgram) {
		p.Spec.ByteCode, p.Spec.ProgramName = bad.Spec.ByteCode, bad.Spec.ProgramName
	})
	p = waitFor(t, s.Client, p.Name, "Stalled with RolloutHalted", func(p *bpfleetv1.TracepointProgram) bool {
		c := meta.FindStatusCondition(p.Status.Conditions, bpfleetv1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == bpfleetv1.ReasonRolloutHalted
	})
	asked := askedGenerations(t, s.Client, p)
	for n, g := range asked {
		if want := good; n == "rollout-canary" {
			want = p.Generation
			if g != want {
				t.Errorf("canary asked generation %d, want the new %d", g, want)
			}
		} else if g != want {
			t.Errorf("%s asked generation %d after the halt, want %d (the previous one)", n, g, want)
		}
	}
	waitEventFor(t, s.Client, p.UID, bpfleetv1.ReasonRolloutHalted)

	// A node joining while halted gets the last good generation.
	extraAgent(t, s, "rollout-late", nil)
	poll(t, "the late node to run the good generation", func(context.Context) bool {
		return askedGenerations(t, s.Client, p)["rollout-late"] == good
	}, func() string { return fmt.Sprint(askedGenerations(t, s.Client, p)) })

	// A fixed spec resumes: the canary first, then one node at a time.
	fixed := p.Generation + 1
	patched := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // the watch is open
		base := p.DeepCopy()
		q := p.DeepCopy()
		q.Spec.ByteCode, q.Spec.ProgramName = bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: s.Example}}, "count_openat"
		q.Spec.GlobalData["increment"] = "2"
		patched <- s.Client.Patch(context.Background(), q, client.MergeFrom(base))
	}()
	order := watchRollout(t, s, p, fixed, 5)
	if err := <-patched; err != nil {
		t.Fatal(err)
	}
	if order[0] != "rollout-canary" {
		t.Errorf("generation %d reached %v first, want the canary", fixed, order)
	}

	// Paused: a change reaches no node until resumed.
	patchSpec(t, s.Client, p, func(p *bpfleetv1.TracepointProgram) {
		p.Spec.Rollout.Paused = true
		p.Spec.GlobalData["increment"] = "3"
	})
	p = waitFor(t, s.Client, p.Name, "Reconciling with RolloutPaused", func(p *bpfleetv1.TracepointProgram) bool {
		c := meta.FindStatusCondition(p.Status.Conditions, bpfleetv1.ConditionReconciling)
		return p.Status.ObservedGeneration == p.Generation && c != nil && c.Reason == bpfleetv1.ReasonRolloutPaused
	})
	time.Sleep(time.Second)
	for n, g := range askedGenerations(t, s.Client, p) {
		if g == p.Generation {
			t.Errorf("%s got generation %d while the rollout was paused", n, g)
		}
	}
	patchSpec(t, s.Client, p, func(p *bpfleetv1.TracepointProgram) { p.Spec.Rollout.Paused = false })
	waitReady(t, s.Client, p.Name)
	// Deleted while every agent runs: a node whose Node object goes with
	// its agent (the late one's cleanup) holds a deletion until its agent
	// counts as silent.
	deleteAndWait(t, s.Client, p)
}

// watchRollout follows generation gen to n nodes through watches on the
// node sets and reports (every change) and returns the order in which
// their specs got it; at no moment may more than one node have it without
// running it (maxUnavailable 1). The two watches are put in one order by
// resourceVersion: etcd makes it one sequence, which a test may rely on
// (clients must not). Start it before the change.
func watchRollout(t *testing.T, s *localstack.Stack, p *bpfleetv1.TracepointProgram, gen int64, n int) []string {
	t.Helper()
	wc, err := client.NewWithWatch(s.Plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sets, err := wc.Watch(ctx, &bpfleetv1.NodeProgramSetList{})
	if err != nil {
		t.Fatal(err)
	}
	defer sets.Stop()
	reports, err := wc.Watch(ctx, &bpfleetv1.NodeProgramReportList{})
	if err != nil {
		t.Fatal(err)
	}
	defer reports.Stop()
	var steps []rolloutStep
	ready, asked := map[string]bool{}, map[string]bool{}
	// Until every node runs it, and the set events of every node running
	// it are in too (the set watch may lag the report watch).
	for len(ready) < n || !containsAll(asked, ready) {
		select {
		case ev, ok := <-sets.ResultChan():
			if set, isSet := ev.Object.(*bpfleetv1.NodeProgramSet); ok && isSet && askedGen(set, p) == gen {
				asked[set.Name] = true
				steps = append(steps, rolloutStep{rv(t, set), set.Name, false})
			}
			if !ok {
				t.Fatalf("generation %d reached %d of %d nodes when the watch ended", gen, len(ready), n)
			}
		case ev, ok := <-reports.ResultChan():
			if r, isReport := ev.Object.(*bpfleetv1.NodeProgramReport); ok && isReport {
				if st := statusOf(r, p); st != nil && st.Generation == gen && st.State == bpfleetv1.StateReady {
					ready[r.Name] = true
					steps = append(steps, rolloutStep{rv(t, r), r.Name, true})
				}
			}
			if !ok {
				t.Fatalf("generation %d reached %d of %d nodes when the watch ended", gen, len(ready), n)
			}
		}
	}
	return replay(t, steps, gen)
}

func containsAll(have, want map[string]bool) bool {
	for k := range want {
		if !have[k] {
			return false
		}
	}
	return true
}

// rolloutStep is a node asked for a generation, or running it, at a
// resourceVersion.
type rolloutStep struct {
	rv      int
	node    string
	running bool
}

// replay checks the steps in resourceVersion order and returns the order
// in which nodes were asked.
func replay(t *testing.T, steps []rolloutStep, gen int64) []string {
	t.Helper()
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].rv < steps[j].rv })
	var order []string
	asked, running := map[string]bool{}, map[string]bool{}
	for _, st := range steps {
		if st.running {
			running[st.node] = true
		} else if !asked[st.node] {
			asked[st.node] = true
			order = append(order, st.node)
		}
		inFlight := 0
		for node := range asked {
			if !running[node] {
				inFlight++
			}
		}
		if inFlight > 1 {
			t.Fatalf("%d nodes took generation %d at once (order %v), want at most 1", inFlight, gen, order)
		}
	}
	return order
}

func rv(t *testing.T, o client.Object) int {
	t.Helper()
	v, err := strconv.Atoi(o.GetResourceVersion())
	if err != nil {
		t.Fatalf("resourceVersion %q of %s: %v", o.GetResourceVersion(), o.GetName(), err)
	}
	return v
}

func askedGen(set *bpfleetv1.NodeProgramSet, p *bpfleetv1.TracepointProgram) int64 {
	for _, np := range set.Spec.Programs {
		if np.UID == p.UID {
			return np.Generation
		}
	}
	return 0
}

func statusOf(r *bpfleetv1.NodeProgramReport, p *bpfleetv1.TracepointProgram) *bpfleetv1.NodeProgramStatus {
	for i := range r.Status.Programs {
		if r.Status.Programs[i].UID == p.UID {
			return &r.Status.Programs[i]
		}
	}
	return nil
}

// askedGenerations maps each node to the generation of p its spec holds.
func askedGenerations(t *testing.T, c client.Client, p *bpfleetv1.TracepointProgram) map[string]int64 {
	t.Helper()
	var sets bpfleetv1.NodeProgramSetList
	if err := c.List(context.Background(), &sets); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, set := range sets.Items {
		for _, np := range set.Spec.Programs {
			if np.UID == p.UID {
				out[set.Name] = np.Generation
			}
		}
	}
	return out
}

// patchSpec changes p's spec (p is refreshed first, and holds the result).
func patchSpec(t *testing.T, c client.Client, p *bpfleetv1.TracepointProgram, change func(*bpfleetv1.TracepointProgram)) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	base := p.DeepCopy()
	change(p)
	if err := c.Patch(context.Background(), p, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// extraAgent registers one more node and runs a real agent for it in this
// process, with its own pin root; both go when the test ends.
func extraAgent(t *testing.T, s *localstack.Stack, name string, labels map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := s.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	root := fmt.Sprintf("%s-%s", pinRoot, name)
	mgr, err := nodesync.NewManager(s.Plane.Config, scheme.New(), nodesync.Options{
		// Its own image cache: an agent's cache collection removes what
		// its node's spec does not use.
		NodeName: name, PinRoot: root, ImageDir: filepath.Join(stateDir, name, "images"), StateDir: filepath.Join(stateDir, name),
		MetricsAddr: "0", HealthAddr: "0", LeaseNamespace: controlplane.Namespace, InProcess: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		// Remove the node, stop its agent, and its programs go with its
		// pin root; the operator deletes the set once the agent is silent.
		_ = s.Client.Delete(context.Background(), node)
		cancel()
		<-done
		_ = os.RemoveAll(root)
	})
}
