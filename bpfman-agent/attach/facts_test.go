package attach

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Lazy facts read the node only for a hook that plans from it: a pass of
// tracepoints reads no interface, route or mount; an XDP program's plan
// reads them once.
func TestLazyFactsReadTheNodeOnlyWhenAHookNeedsIt(t *testing.T) {
	facts := LazyFacts()
	tp, _ := Lookup(bpfleetv1.HookTracepoint)
	if _, err := tp.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}), facts); err != nil {
		t.Fatal(err)
	}
	if !facts.unread {
		t.Fatal("planning a tracepoint read the node's interfaces")
	}
	xdp, _ := Lookup(bpfleetv1.HookXDP)
	pl, err := xdp.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookXDP, bpfleetv1.XDPAttach{
		Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"lo"}}}), facts)
	if err != nil {
		t.Fatal(err)
	}
	if facts.unread || facts.IfErr != nil || len(pl.Targets) != 1 || pl.Targets["lo"] == nil {
		t.Errorf("an XDP plan on lo from lazy facts: %+v (facts %+v)", pl, facts)
	}
}

// An order names a program of its own kind: while its link is missing,
// LinkOf waits, saying the program is not attached there yet, or, where
// the caller said which programs the node runs, that none of that name
// does (an application's program cannot be named).
func TestLinkOfSaysWhatItWaitsFor(t *testing.T) {
	facts := LazyFacts()
	if _, err := facts.LinkOf("TcxProgram", "fw", "eth0"); err == nil || !strings.Contains(err.Error(), "TcxProgram fw is not attached on eth0 yet") {
		t.Errorf("unknown programs: %v, want a wait for its link", err)
	}
	facts.Runs("TcxProgram", "fw")
	if _, err := facts.LinkOf("TcxProgram", "fw", "eth0"); err == nil || !strings.Contains(err.Error(), "not attached on eth0 yet") {
		t.Errorf("a program the node runs: %v, want a wait for its link", err)
	}
	if _, err := facts.LinkOf("TcxProgram", "app", "eth0"); err == nil || !strings.Contains(err.Error(), "no TcxProgram app is scheduled on this node") || !strings.Contains(err.Error(), "application") {
		t.Errorf("a program the node does not run: %v, want a wait saying so", err)
	}
	facts.AddLinks("TcxProgram", "fw", map[string]uint32{"eth0": 7})
	if id, err := facts.LinkOf("TcxProgram", "fw", "eth0"); err != nil || id != 7 {
		t.Errorf("attached: %d, %v; want link 7", id, err)
	}
}

// In a pod on a node of cgroup v1 beside v2, the runtime mounts only v1
// (or, on a v2 node, the pod's own cgroup as its /sys/fs/cgroup): the
// node's hierarchy is the one the DaemonSet mounts under /host/.
func TestOwnCgroup2PrefersTheNodes(t *testing.T) {
	dir := t.TempDir()
	write := func(lines ...string) string {
		path := filepath.Join(dir, "mounts")
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"cgroup2 /sys/fs/cgroup cgroup2 rw 0 0", "cgroup2 /host/sys/fs/cgroup cgroup2 rw 0 0"}, "/host/sys/fs/cgroup"},
		{[]string{"cgroup /sys/fs/cgroup/memory cgroup rw 0 0", "cgroup2 /host/sys/fs/cgroup/unified cgroup2 rw 0 0"}, "/host/sys/fs/cgroup/unified"},
		{[]string{"cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0"}, "/sys/fs/cgroup/unified"},
		{[]string{"cgroup /sys/fs/cgroup/memory cgroup rw 0 0"}, ""},
	} {
		if got := ownCgroup2(write(tc.lines...)); got != tc.want {
			t.Errorf("mounts %v: %q, want %q", tc.lines, got, tc.want)
		}
	}
}
