package nodesync

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A program that asks for run statistics reports them, read from the
// kernel no more than once every runStats.every: between reads the report
// holds the same figures, so they alone do not rewrite it.
func TestRunStatsInReport(t *testing.T) {
	testkernel.Require(t)
	mnt := testkernel.TempBPFFS(t)
	m, err := programs.New(filepath.Join(mnt, "bpfleet"), programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	p := programs.Program{UID: "uid-stats", Revision: programs.ParseRevision("r1"), Object: bpf.TracepointCounter,
		Programs: []programs.Attachment{{Name: "count_openat", Attach: map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_openat"}}}}}
	ld, err := m.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Remove("uid-stats") })
	id := ld.Programs["count_openat"].ID
	r := &Reconciler{Programs: m}
	r.runStats.every = time.Hour
	t.Cleanup(func() { _ = r.stats.Want(false) })
	desired := []bpfleetv1.NodeProgram{{UID: "uid-stats", Kind: "TracepointProgram", Name: "opens", RunStats: true}, {UID: "uid-plain", Kind: "TracepointProgram", Name: "plain"}}
	pass := func() []bpfleetv1.NodeProgramStatus {
		statuses := []bpfleetv1.NodeProgramStatus{{UID: "uid-stats", ProgramID: id}, {UID: "uid-plain", ProgramID: id}}
		r.measure(context.Background(), desired, statuses)
		return statuses
	}
	first := pass()[0].RunStats
	if first == nil {
		t.Fatal("no run statistics in the status of a program that asks for them")
	}
	for range 10 {
		_, _ = os.ReadFile("/proc/self/status") // openat: the counter runs
	}
	statuses := pass()
	if statuses[0].RunStats != first || statuses[1].RunStats != nil {
		t.Errorf("a second pass within the interval: %+v, %+v; want the first read again, and none for the program that does not ask", statuses[0].RunStats, statuses[1].RunStats)
	}
	r.runStats.every = time.Nanosecond
	later := pass()[0].RunStats
	if later.RunCount < first.RunCount+10 || later.RunTimeNs <= first.RunTimeNs || !later.ReadAt.After(first.ReadAt.Time) {
		t.Errorf("read again: %+v, first %+v; want 10 runs more", later, first)
	}
	desired[0].RunStats = false
	pass()
	if len(r.runStats.last) != 0 {
		t.Errorf("reads kept for programs no longer measured: %v", r.runStats.last)
	}
}
