package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestApplicationRuns applies a ClusterBpfApplication of app_counter with
// a TCX program, a tracepoint and an optional kprobe (this kernel has no
// kprobes): it becomes Ready; the node reports each program, the two that
// run with their program and link IDs, the kprobe Unsupported; both use
// the application's one events map (bpftool) and count in it; the
// application's status counts where each program runs.
func TestApplicationRuns(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, ns, hostIP, _ := testkernel.VethPair(t)
	obj := filepath.Join(t.TempDir(), "app_counter.o")
	if err := os.WriteFile(obj, bpf.AppCounter, 0o644); err != nil {
		t.Fatal(err)
	}
	app := &bpfleetv1.ClusterBpfApplication{
		ObjectMeta: metav1.ObjectMeta{Name: "app-e2e"},
		Spec: bpfleetv1.ClusterBpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{
				ByteCode:   bpfleetv1.ByteCodeSource{Path: obj},
				GlobalData: map[string]bpfleetv1.GlobalValue{"filter_pid": bpfleetv1.GlobalValue(strconv.Itoa(os.Getpid()))},
			},
			Programs: []bpfleetv1.ApplicationProgram{
				{Name: "tc_ingress", TCX: &bpfleetv1.TCXAttach{
					Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(host)}},
					Direction:  bpfleetv1.TCXIngress}},
				{Name: "count_openat", Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}},
				{Name: "kprobe_openat", Optional: true, Kprobe: &bpfleetv1.KprobeAttach{Function: "do_sys_openat2"}},
			},
		},
	}
	if err := s.Client.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), app) })
	waitProgram(t, s.Client, app, "Ready=True", readyNow)

	e := nodeEntry(t, s.Client, app.UID)
	events := e.Objects.MapIDs["events"]
	if e.State != bpfleetv1.StateReady || e.ProgramID != 0 || events == 0 || len(e.Programs) != 3 {
		t.Fatalf("node entry %+v, want Ready with three programs and the events map", e)
	}
	byName := map[string]bpfleetv1.ProgramAttachmentStatus{}
	for _, p := range e.Programs {
		byName[p.Name] = p
	}
	for _, name := range []string{"tc_ingress", "count_openat"} {
		p := byName[name]
		if p.State != bpfleetv1.StateReady || p.ProgramID == 0 || len(p.Links) != 1 || p.Links[0].LinkID == 0 {
			t.Errorf("%s: %+v, want Ready with its program and link", name, p)
		}
		if maps := testkernel.BpftoolMapIDs(t, p.ProgramID); !slices.Contains(maps, events) {
			t.Errorf("bpftool: %s (%d) uses maps %v, want the application's events map %d", name, p.ProgramID, maps, events)
		}
	}
	if p := byName["kprobe_openat"]; p.State != bpfleetv1.StateUnsupported || p.Message == "" {
		t.Errorf("kprobe_openat: %+v, want Unsupported with the reason", p)
	}
	testkernel.OpenFiles(t, 3)
	testkernel.Ping(t, ns, hostIP, 2)
	if n := testkernel.MapValue(t, events, uint32(0)); n < 2 {
		t.Errorf("tc_ingress counted %d of 2 pings", n)
	}
	if n := testkernel.MapValue(t, events, uint32(2)); n < 3 {
		t.Errorf("count_openat counted %d of 3 opens", n)
	}
	want := map[string]bpfleetv1.ApplicationProgramStatus{
		"tc_ingress": {Name: "tc_ingress", Ready: 1}, "count_openat": {Name: "count_openat", Ready: 1},
		"kprobe_openat": {Name: "kprobe_openat", Unsupported: 1},
	}
	waitProgram(t, s.Client, app, "counting its programs", func(bpfleetv1.Program) bool {
		for _, p := range app.Status.Programs {
			if want[p.Name] != p {
				return false
			}
		}
		return len(app.Status.Programs) == 3
	})
}
