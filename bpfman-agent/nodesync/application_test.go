package nodesync

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// An application whose optional kprobe this kernel lacks runs its other
// program and is Ready, the kprobe reported Unsupported with the reason,
// each program with its kernel ID and links, the maps the application's;
// without optional, the node cannot run it. A single program kind's entry
// beside it reports as it always did: ProgramID and links at the top, no
// per-program entries.
func TestApplicationOptionalHookMissing(t *testing.T) {
	testkernel.Require(t)
	r, obj := appReconciler(t)
	app := bpfleetv1.NodeProgram{UID: "app", Kind: "ClusterBpfApplication", Name: "app", Path: obj,
		GlobalData: map[string]bpfleetv1.GlobalValue{"filter_pid": bpfleetv1.GlobalValue(strconv.Itoa(os.Getpid()))},
		Programs: []bpfleetv1.ProgramAttachment{
			{Name: "count_openat", Attach: tracepointAt("syscalls/sys_enter_openat")},
			{Name: "kprobe_openat", Optional: true, Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookKprobe,
				bpfleetv1.KprobeAttach{Function: "do_sys_openat2"})},
		}}
	single := bpfleetv1.NodeProgram{UID: "single", Kind: "TracepointProgram", Name: "single", Path: obj,
		ProgramName: "count_openat", Attach: tracepointAt("syscalls/sys_enter_openat")}
	required := app
	required.UID, required.Programs = "required", slices2(app.Programs)
	required.Programs[1].Optional = false

	statuses, _, _ := r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app, single, required})
	st := statuses[0]
	if st.State != bpfleetv1.StateReady || st.ProgramID != 0 || len(st.Objects.Links) != 0 || st.Objects.MapIDs["events"] == 0 {
		t.Fatalf("application: %+v, want Ready with per-program entries and its maps", st)
	}
	if len(st.Programs) != 2 {
		t.Fatalf("programs %+v, want two entries", st.Programs)
	}
	if p := st.Programs[0]; p.Name != "count_openat" || p.State != bpfleetv1.StateReady || p.ProgramID == 0 || len(p.Links) != 1 || p.Links[0].LinkID == 0 {
		t.Errorf("count_openat: %+v, want Ready with its program and link IDs", p)
	}
	why := r.Kernel.Hooks[bpfleetv1.HookKprobe]
	if p := st.Programs[1]; p.Name != "kprobe_openat" || p.State != bpfleetv1.StateUnsupported || p.ProgramID != 0 || !strings.Contains(p.Message, why) {
		t.Errorf("kprobe_openat: %+v, want Unsupported saying %q", p, why)
	}
	before := testkernel.MapValue(t, st.Objects.MapIDs["events"], uint32(2))
	testkernel.OpenFiles(t, 3)
	if n := testkernel.MapValue(t, st.Objects.MapIDs["events"], uint32(2)) - before; n < 3 {
		t.Errorf("count_openat counted %d of 3 opens", n)
	}
	if s := statuses[1]; s.State != bpfleetv1.StateReady || s.ProgramID == 0 || len(s.Objects.Links) != 1 || s.Programs != nil {
		t.Errorf("single kind: %+v, want today's report: ProgramID and links, no per-program entries", s)
	}
	if s := statuses[2]; s.State == bpfleetv1.StateReady {
		t.Errorf("application with a required kprobe: %+v, want it not to run here", s)
	}
}

// appReconciler is a Reconciler on a private bpffs that reads objects
// from files, with this kernel's probe results, and the path of
// app_counter.o. On a kernel with kprobes, it reports them missing, as a
// kernel without them does (the probe itself is tested in package probe).
func appReconciler(t *testing.T) (*Reconciler, string) {
	t.Helper()
	mnt := testkernel.TempBPFFS(t)
	m, err := programs.New(filepath.Join(mnt, "bpfleet"), programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Prune(nil) })
	store, err := image.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(t.TempDir(), "app_counter.o")
	if err := os.WriteFile(obj, bpf.AppCounter, 0o644); err != nil {
		t.Fatal(err)
	}
	kernel := probe.Kernel()
	if kernel.Hooks[bpfleetv1.HookKprobe] == "" {
		t.Log("this kernel has kprobes: the test reports them missing")
		kernel.Hooks[bpfleetv1.HookKprobe] = "kernel lacks kprobes (as the test says)"
	}
	return &Reconciler{Programs: m, Images: image.NewFetcher(store, nil), Kernel: kernel, failed: map[types.UID]terminalFailure{}}, obj
}

func slices2[T any](s []T) []T { return append([]T(nil), s...) }

// An optional program whose hook's probe was inconclusive (out of memory,
// busy) does not fail its application: the programs whose hooks are known
// run, it waits (Pending, with the probe's error) and the pass after the
// probe is retried runs it (in a new revision of the application), or
// reports it Unsupported, with no reload of the others; the pass is
// retried soon. An application of such programs
// alone waits: it is not Unsupported.
func TestApplicationOptionalHookProbeInconclusive(t *testing.T) {
	testkernel.Require(t)
	r, obj := appReconciler(t)
	inconclusive(r, bpfleetv1.HookKprobe, "probing kprobes: cannot allocate memory")
	app := bpfleetv1.NodeProgram{UID: "app", Kind: "ClusterBpfApplication", Name: "app", Path: obj,
		GlobalData: map[string]bpfleetv1.GlobalValue{"filter_pid": bpfleetv1.GlobalValue(strconv.Itoa(os.Getpid()))},
		Programs: []bpfleetv1.ProgramAttachment{
			{Name: "count_openat", Attach: tracepointAt("syscalls/sys_enter_openat")},
			{Name: "kprobe_openat", Optional: true, Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookKprobe,
				bpfleetv1.KprobeAttach{Function: "do_sys_openat2"})},
		}}
	lone := app
	lone.UID, lone.Programs = "lone", app.Programs[1:]
	statuses, _, err := r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app, lone})
	if s := statuses[1]; s.State != bpfleetv1.StatePending || s.Terminal || !strings.Contains(s.Message, "cannot allocate memory") {
		t.Errorf("application of the optional kprobe alone: %+v, want Pending (not Unsupported) with the probe's error", s)
	}
	st := statuses[0]
	if err != nil || st.State != bpfleetv1.StateReady || len(st.Programs) != 2 {
		t.Fatalf("application with an optional kprobe whose probe erred: %+v, %v; want Ready, each program reported", st, err)
	}
	counting := st.Programs[0]
	if counting.State != bpfleetv1.StateReady || counting.ProgramID == 0 {
		t.Errorf("count_openat: %+v, want Ready", counting)
	}
	if p := st.Programs[1]; p.State != bpfleetv1.StatePending || p.ProgramID != 0 || !strings.Contains(p.Message, "cannot allocate memory") {
		t.Errorf("kprobe_openat: %+v, want Pending with the probe's error", p)
	}
	if next := r.nextPass(&bpfleetv1.NodeProgramSet{}, statuses, nil); next != waitRetry {
		t.Errorf("next pass in %v, want %v: a program waits for its hook's probe", next, waitRetry)
	}

	r.Kernel.Retry() // as the pass's report does
	statuses, _, err = r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app})
	st = statuses[0]
	if err != nil || st.State != bpfleetv1.StateReady || len(st.Programs) != 2 {
		t.Fatalf("after the probe's retry: %+v, %v; want Ready", st, err)
	}
	want := bpfleetv1.StateReady // a kernel with kprobes runs it now
	if r.Kernel.Hooks[bpfleetv1.HookKprobe] != "" {
		want = bpfleetv1.StateUnsupported
	}
	if p := st.Programs[1]; p.State != want {
		t.Errorf("kprobe_openat after the retry (%q): %+v, want %s", r.Kernel.Hooks[bpfleetv1.HookKprobe], p, want)
	}
	p := st.Programs[0]
	switch {
	case want == bpfleetv1.StateUnsupported && (p.ProgramID != counting.ProgramID || p.Links[0].LinkID != counting.Links[0].LinkID):
		t.Errorf("count_openat after the retry: %+v, want it untouched (program %d, link %d)", p, counting.ProgramID, counting.Links[0].LinkID)
	case want == bpfleetv1.StateReady && (p.State != bpfleetv1.StateReady || len(p.Links) != 1):
		// The kprobe joins the application in a new revision, which
		// takes over each hook as an update does (no gap: the agent's
		// swap tests).
		t.Errorf("count_openat after the retry: %+v, want it Ready and attached in the revision that adds the kprobe", p)
	}
}

// An optional program already running keeps running when its hook's
// probe is inconclusive (an agent restarted on a busy kernel): same
// program and link; no probe error evicts it.
func TestApplicationOptionalProgramKeptOnInconclusiveProbe(t *testing.T) {
	testkernel.Require(t)
	r, obj := appReconciler(t)
	host, _, _, _ := testkernel.VethPair(t)
	app := bpfleetv1.NodeProgram{UID: "app", Kind: "ClusterBpfApplication", Name: "app", Path: obj,
		Programs: []bpfleetv1.ProgramAttachment{
			{Name: "count_openat", Attach: tracepointAt("syscalls/sys_enter_openat")},
			{Name: "tc_ingress", Optional: true, Attach: tcxOn(host, nil)},
		}}
	statuses, _, err := r.applyAll(context.Background(), []bpfleetv1.NodeProgram{app})
	if why := r.Kernel.Hooks[bpfleetv1.HookTCX]; why != "" {
		// A kernel without TCX (Debian's 6.1): the optional program never
		// runs here; the application runs without it.
		if err != nil || statuses[0].State != bpfleetv1.StateReady || statuses[0].Programs[1].State != bpfleetv1.StateUnsupported {
			t.Errorf("application on a kernel without TCX: %+v, %v; want Ready, tc_ingress Unsupported", statuses[0], err)
		}
		return
	}
	if err != nil || statuses[0].State != bpfleetv1.StateReady || statuses[0].Programs[1].ProgramID == 0 {
		t.Fatalf("application: %+v, %v; want its TCX program running", statuses[0], err)
	}
	before := statuses[0].Programs[1]
	restarted := &Reconciler{Programs: r.Programs, Images: r.Images, Kernel: r.Kernel, failed: map[types.UID]terminalFailure{}}
	inconclusive(restarted, bpfleetv1.HookTCX, "attaching a TCX link fails: device or resource busy")
	statuses, _, err = restarted.applyAll(context.Background(), []bpfleetv1.NodeProgram{app})
	after := statuses[0].Programs[1]
	if err != nil || after.State != bpfleetv1.StateReady || after.ProgramID != before.ProgramID || after.Links[0].LinkID != before.Links[0].LinkID {
		t.Errorf("tc_ingress after a restart whose TCX probe erred: %+v, %v; want it still running as %+v", after, err, before)
	}
}

// inconclusive makes the probe of hook, as r knows it, one that erred with
// msg (as probe.Result files one that says nothing of the kernel).
func inconclusive(r *Reconciler, hook, msg string) {
	kernel := r.Kernel
	kernel.Hooks, kernel.Unknown = maps.Clone(kernel.Hooks), maps.Clone(kernel.Unknown)
	delete(kernel.Hooks, hook)
	kernel.Unknown[hook] = msg
	r.Kernel = kernel
}
