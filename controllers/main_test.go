package controllers_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// k8s talks to a real kube-apiserver; the operator runs against it in the
// background. Tests play the agents by writing NodeProgramReports.
var (
	k8s   client.Client
	plane *controlplane.Plane
	// mgr is the operator under test.
	mgr ctrl.Manager
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	var err error
	plane, err = controlplane.Start()
	if err != nil {
		panic(err)
	}
	// A resource stalled on its registry is tried again within a test's
	// patience.
	mgr, err = controllers.NewManager(plane.Config, scheme.New(), controllers.Options{MetricsAddr: "0", StalledRetry: time.Second})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			panic(err)
		}
	}()
	if k8s, err = client.New(plane.Config, client.Options{Scheme: scheme.New()}); err != nil {
		panic(err)
	}
	code := m.Run()
	cancel()
	_ = plane.Stop()
	os.Exit(code)
}

// eventually polls cond until it holds or 20s pass.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) {
			ok, err := cond()
			last = err
			return ok, nil
		})
	if err != nil {
		t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}

func createNode(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8s.Create(context.Background(), n); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
}

func pathProgram(name string, selector map[string]string) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode:     bpfleetv1.ByteCodeSource{Path: "/opt/bpf/counter.o"},
					NodeSelector: metav1.LabelSelector{MatchLabels: selector},
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

func getProgram(t *testing.T, name string) *bpfleetv1.TracepointProgram {
	t.Helper()
	var p bpfleetv1.TracepointProgram
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, &p); err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return &p
}

func getSet(name string) (*bpfleetv1.NodeProgramSet, error) {
	var s bpfleetv1.NodeProgramSet
	err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, &s)
	return &s, err
}

// waitScheduled waits until node's set asks for p at its current generation.
func waitScheduled(t *testing.T, node string, p *bpfleetv1.TracepointProgram) bpfleetv1.NodeProgram {
	t.Helper()
	var got bpfleetv1.NodeProgram
	eventually(t, p.Name+" scheduled on "+node, func() (bool, error) {
		s, err := getSet(node)
		if err != nil {
			return false, err
		}
		for _, np := range s.Spec.Programs {
			if np.UID == p.UID && np.Generation == p.Generation {
				got = np
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// scheduledOn creates nodes and a program name that selects them (by the
// label test=name), and waits until each node's set asks for it.
func scheduledOn(t *testing.T, name string, nodes ...string) *bpfleetv1.TracepointProgram {
	t.Helper()
	p := pathProgram(name, map[string]string{"test": name})
	schedule(t, p, nodes...)
	return p
}

// imageScheduledOn is scheduledOn for a program of image ref, on one
// node, changed by change first; it returns the node's entry for it.
func imageScheduledOn(t *testing.T, name, ref, node string, change ...func(*bpfleetv1.TracepointProgram)) (*bpfleetv1.TracepointProgram, bpfleetv1.NodeProgram) {
	t.Helper()
	p := pathProgram(name, map[string]string{"test": name})
	p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}}
	for _, c := range change {
		c(p)
	}
	return p, schedule(t, p, node)[0]
}

// schedule creates nodes with the labels p selects and p, and waits
// until each node's set asks for it; it returns each node's entry.
func schedule(t *testing.T, p *bpfleetv1.TracepointProgram, nodes ...string) []bpfleetv1.NodeProgram {
	t.Helper()
	for _, node := range nodes {
		createNode(t, node, p.Spec.NodeSelector.MatchLabels)
	}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	entries := make([]bpfleetv1.NodeProgram, len(nodes))
	for i, node := range nodes {
		entries[i] = waitScheduled(t, node, p)
	}
	return entries
}

// report plays node's agent: it sets node's status entry for p (nil removes it).
func report(t *testing.T, node string, p *bpfleetv1.TracepointProgram, st *bpfleetv1.NodeProgramStatus) {
	t.Helper()
	reportAs(t, node, "TracepointProgram", p, st)
}

// reportAs is report for a program of any kind.
func reportAs(t *testing.T, node, kind string, p client.Object, st *bpfleetv1.NodeProgramStatus) {
	t.Helper()
	writeReport(t, node, func(rs *bpfleetv1.NodeProgramReportStatus) {
		var out []bpfleetv1.NodeProgramStatus
		for _, e := range rs.Programs {
			if e.UID != p.GetUID() {
				out = append(out, e)
			}
		}
		if st != nil {
			st.UID, st.Generation = p.GetUID(), p.GetGeneration()
			out = append(out, *st)
		}
		rs.Programs = out
	})
}

// writeReport plays node's agent: it changes node's report, with the
// agent's own code (nodereport.WriteReport).
func writeReport(t *testing.T, node string, change func(*bpfleetv1.NodeProgramReportStatus)) {
	t.Helper()
	s, err := getSet(node)
	if err != nil {
		t.Fatalf("get set %s: %v", node, err)
	}
	var r bpfleetv1.NodeProgramReport
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: node}, &r); client.IgnoreNotFound(err) != nil {
		t.Fatalf("get report %s: %v", node, err)
	}
	change(&r.Status)
	if err := nodereport.WriteReport(context.Background(), k8s, s, &r); err != nil {
		t.Fatalf("report on %s: %v", node, err)
	}
}

// waitConditionGone waits until program name, at its generation, has no
// condition typ (an abnormal-true condition that is False).
func waitConditionGone(t *testing.T, name, typ string) {
	t.Helper()
	eventually(t, name+" without "+typ, func() (bool, error) {
		p := getProgram(t, name)
		return meta.FindStatusCondition(p.Status.Conditions, typ) == nil && p.Status.ObservedGeneration == p.Generation, nil
	})
}

// waitCondition waits until p's condition typ has status and reason.
func waitCondition(t *testing.T, name, typ string, status metav1.ConditionStatus, reason string) *bpfleetv1.TracepointProgram {
	t.Helper()
	var p *bpfleetv1.TracepointProgram
	eventually(t, name+" "+typ+"="+string(status)+"/"+reason, func() (bool, error) {
		p = getProgram(t, name)
		c := meta.FindStatusCondition(p.Status.Conditions, typ)
		return c != nil && c.Status == status && c.Reason == reason && p.Status.ObservedGeneration == p.Generation, nil
	})
	return p
}
