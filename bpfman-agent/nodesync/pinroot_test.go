package nodesync

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A pass that finds the pin root's bpffs unmounted mounts it again,
// counts it, and the status of every program it runs says it was
// reloaded and why.
func TestPassAfterUnmountSaysReloaded(t *testing.T) {
	testkernel.Require(t)
	mnt := testkernel.TempBPFFS(t)
	m, err := programs.New(filepath.Join(mnt, "bpfleet"), programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	p := programs.Program{UID: "uid-a", Revision: programs.ParseRevision("r1"), Object: bpf.TracepointCounter,
		Programs: []programs.Attachment{{Name: "count_openat", Attach: map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_openat"}}}}}
	if _, err := m.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Programs: m}
	before := pinRootLost(t, "reloaded")
	if lost := r.checkPinRoot(context.Background()); lost != "" {
		t.Fatalf("intact root reported lost: %q", lost)
	}
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	lost := r.checkPinRoot(context.Background())
	if ok, _ := pins.IsBPFFS(mnt); lost == "" || !ok {
		t.Fatalf("after unmount: lost %q, remounted %v", lost, ok)
	}
	if got := pinRootLost(t, "reloaded") - before; got != 1 {
		t.Errorf("bpfleet_agent_pin_root_lost_total{outcome=reloaded} grew by %v, want 1", got)
	}
	ld, err := m.Apply(context.Background(), p)
	if err != nil || ld.Adopted {
		t.Fatalf("apply after remount: %+v, %v; want a reload", ld, err)
	}
	statuses := []bpfleetv1.NodeProgramStatus{
		{UID: "uid-a", State: bpfleetv1.StateReady, Message: "interface eth9 missing"},
		{UID: "uid-b", State: bpfleetv1.StateFailed, Message: "verifier"},
	}
	markReloaded(statuses, lost)
	want := "reloaded: the BPF filesystem holding its pins was unmounted; interface eth9 missing"
	if statuses[0].Message != want || statuses[1].Message != "verifier" {
		t.Errorf("messages %q, %q; want %q on the running program only", statuses[0].Message, statuses[1].Message, want)
	}
	if err := m.Remove("uid-a"); err != nil {
		t.Fatal(err)
	}
}

func pinRootLost(t *testing.T, outcome string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "bpfleet_agent_pin_root_lost_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && strings.EqualFold(l.GetValue(), outcome) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
