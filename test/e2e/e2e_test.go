package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"github.com/bpfleet/bpfleet/internal/teststack"
)

const node = "e2e-node"

var (
	// shared is the stack every test shares (one operator and agent per
	// process).
	shared   = teststack.New("e2e", node)
	pinRoot  = shared.PinRoot
	stateDir = shared.StateDir
)

// TestMain stops the shared stack after every test ran and checks that it
// left nothing under its pin root.
func TestMain(m *testing.M) { shared.Main(m) }

// startStack returns the local stack every test shares, its pins under
// /sys/fs/bpf, which the agent mounts if the host has not.
func startStack(t testing.TB) *localstack.Stack { return shared.Start(t) }

func counter(name, ref string, globals map[string]bpfleetv1.GlobalValue) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode:   bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}},
					GlobalData: globals,
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

// waitReady waits until the program is Ready at its current generation.
func waitReady(t testing.TB, c client.Client, name string) *bpfleetv1.TracepointProgram {
	t.Helper()
	p := &bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{Name: name}}
	waitProgram(t, c, p, "Ready=True", readyNow)
	return p
}

func readyNow(p bpfleetv1.Program) bool {
	return meta.IsStatusConditionTrue(p.ProgramStatus().Conditions, bpfleetv1.ConditionReady) &&
		p.ProgramStatus().ObservedGeneration == p.GetGeneration()
}

func waitFor(t testing.TB, c client.Client, name, what string, ok func(*bpfleetv1.TracepointProgram) bool) *bpfleetv1.TracepointProgram {
	t.Helper()
	p := &bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{Name: name}}
	waitProgram(t, c, p, what, func(bpfleetv1.Program) bool { return ok(p) })
	return p
}

// waitProgram waits until p (of any kind, by its name) is what ok says.
// It watches p, as kubectl wait does, when c can; else it polls.
func waitProgram(t testing.TB, c client.Client, p bpfleetv1.Program, what string, ok func(bpfleetv1.Program) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wc, canWatch := c.(client.WithWatch)
	for ctx.Err() == nil {
		if err := c.Get(ctx, types.NamespacedName{Name: p.GetName()}, p); err == nil && ok(p) {
			return
		}
		if canWatch && watchUntil(ctx, wc, p, ok) {
			return
		}
		sleep(ctx, 20*time.Millisecond) // a poll, or a watch that ended
	}
	t.Fatalf("%s never became %s; status: %+v", p.GetName(), what, *p.ProgramStatus())
}

// watchUntil watches p from the version it holds, copying each version
// into p, until ok holds (true) or the watch ends. ok is also asked every
// recheck: a condition may read other objects (the node's report), whose
// changes send p no event.
func watchUntil(ctx context.Context, c client.WithWatch, p bpfleetv1.Program, ok func(bpfleetv1.Program) bool) bool {
	list, err := listOf(c, p)
	if err != nil {
		return false
	}
	w, err := c.Watch(ctx, list, client.MatchingFields{"metadata.name": p.GetName()},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: p.GetResourceVersion()}})
	if err != nil {
		return false
	}
	defer w.Stop()
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if ok(p) {
				return true
			}
		case ev, open := <-w.ResultChan():
			if !open {
				return false
			}
			got := reflect.ValueOf(ev.Object)
			if got.Type() != reflect.TypeOf(p) {
				continue // a bookmark or an error
			}
			reflect.ValueOf(p).Elem().Set(got.Elem())
			if ok(p) {
				return true
			}
		}
	}
}

// recheck is how often a wait asks its condition again without an event.
const recheck = 100 * time.Millisecond

// listOf is an empty list of p's kind.
func listOf(c client.Client, p client.Object) (client.ObjectList, error) {
	gvk, err := c.GroupVersionKindFor(p)
	if err != nil {
		return nil, err
	}
	o, err := c.Scheme().New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err != nil {
		return nil, err
	}
	return o.(client.ObjectList), nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// nodeEntry is what the agent reports for uid on the test node.
func nodeEntry(t testing.TB, c client.Client, uid types.UID) bpfleetv1.NodeProgramStatus {
	t.Helper()
	e, err := nodereport.Entry(context.Background(), c, node, uid)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// countFor reads this process's entry in the counts map with the given ID.
func countFor(t testing.TB, mapID uint32) uint64 {
	return testkernel.MapValue(t, mapID, uint32(os.Getpid()))
}

// assertGone checks the kernel freed the program. The kernel frees a
// detached program after an RCU grace period, so allow it a moment.
func assertGone(t testing.TB, progID uint32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) {
			p, err := ebpf.NewProgramFromID(ebpf.ProgramID(progID))
			if err == nil {
				p.Close()
			}
			return err != nil, nil
		})
	if err != nil {
		t.Errorf("program %d is still in the kernel", progID)
	}
}

// bpftoolShows reports whether bpftool lists the program by ID.
func bpftoolShows(t testing.TB, progID uint32) bool {
	t.Helper()
	out, err := exec.Command("bpftool", "prog", "show", "id", strconv.Itoa(int(progID))).CombinedOutput()
	if err != nil {
		if _, lookErr := exec.LookPath("bpftool"); lookErr != nil {
			t.Fatalf("bpftool not installed: run hack/install-deps.sh (make test does)")
		}
		return false
	}
	return len(out) > 0
}

func TestTracepointEndToEnd(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	pid := strconv.Itoa(os.Getpid())
	p := counter("openat-counter", s.Example, map[string]bpfleetv1.GlobalValue{"filter_pid": bpfleetv1.GlobalValue(pid)})
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, s.Client, p.Name)
	if got.Status.Nodes.Summary != "1/1" || got.Status.Image == nil || got.Status.Image.Digest != s.Digest {
		t.Fatalf("status nodes=%q image=%+v, want 1/1 and digest %s", got.Status.Nodes.Summary, got.Status.Image, s.Digest)
	}
	first := nodeEntry(t, s.Client, got.UID)
	if !bpftoolShows(t, first.ProgramID) {
		t.Fatalf("bpftool does not show program %d", first.ProgramID)
	}
	before := countFor(t, first.Objects.MapIDs["counts"])
	testkernel.OpenFiles(t, 10)
	if n := countFor(t, first.Objects.MapIDs["counts"]) - before; n < 10 {
		t.Fatalf("counter rose by %d after 10 opens, want >= 10", n)
	}

	t.Run("globalData change swaps in a new program", func(t *testing.T) {
		base := got.DeepCopy()
		got.Spec.GlobalData["increment"] = "1000"
		if err := s.Client.Patch(ctx, got, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
		waitReady(t, s.Client, p.Name)
		second := nodeEntry(t, s.Client, got.UID)
		if second.ProgramID == first.ProgramID {
			t.Fatalf("program ID unchanged (%d) after globalData change", first.ProgramID)
		}
		assertGone(t, first.ProgramID)
		before := countFor(t, second.Objects.MapIDs["counts"])
		testkernel.OpenFiles(t, 3)
		if n := countFor(t, second.Objects.MapIDs["counts"]) - before; n < 3000 {
			t.Fatalf("counter rose by %d after 3 opens with increment 1000, want >= 3000", n)
		}
		first = second
	})

	t.Run("delete unloads everywhere", func(t *testing.T) {
		if err := s.Client.Delete(ctx, got); err != nil {
			t.Fatal(err)
		}
		waitGone(t, s.Client, p.Name)
		assertGone(t, first.ProgramID)
		if bpftoolShows(t, first.ProgramID) {
			t.Errorf("bpftool still shows program %d", first.ProgramID)
		}
		pins, _ := filepath.Glob(filepath.Join(filepath.Dir(first.PinPath), "*"))
		if len(pins) > 0 {
			t.Errorf("pins left behind: %v", pins)
		}
	})
}

func waitGone(t testing.TB, c client.Client, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 60*time.Second, true,
		func(ctx context.Context) (bool, error) {
			var p bpfleetv1.TracepointProgram
			err := c.Get(ctx, types.NamespacedName{Name: name}, &p)
			return client.IgnoreNotFound(err) == nil && err != nil, nil
		})
	if err != nil {
		t.Fatalf("%s was never deleted", name)
	}
}

// rejected is a TracepointProgram of reject.o, which the verifier refuses.
func rejected(t testing.TB, name string) *bpfleetv1.TracepointProgram {
	t.Helper()
	obj := filepath.Join(t.TempDir(), "reject.o")
	if err := os.WriteFile(obj, bpf.Reject, 0o644); err != nil {
		t.Fatal(err)
	}
	p := counter(name, "", nil)
	p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: obj}
	p.Spec.ProgramName = "rejected"
	return p
}

func TestVerifierRejectionReachesStatus(t *testing.T) {
	s := startStack(t)
	p := rejected(t, "rejected")
	if err := s.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, s.Client, p.Name, "Stalled=True", func(p *bpfleetv1.TracepointProgram) bool {
		return meta.IsStatusConditionTrue(p.Status.Conditions, bpfleetv1.ConditionStalled)
	})
	c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionStalled)
	if c.Reason != bpfleetv1.ReasonVerifierRejected {
		t.Errorf("Stalled reason = %s, want VerifierRejected", c.Reason)
	}
	if len(got.Status.Failures) != 1 || got.Status.Failures[0].VerifierLog == "" {
		t.Errorf("failures = %+v, want one with the verifier log", got.Status.Failures)
	}
}
