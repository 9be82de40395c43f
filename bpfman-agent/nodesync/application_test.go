package nodesync

import (
	"context"
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
