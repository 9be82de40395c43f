package pods

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A process is known by PID and start time: the same PID after the
// process is gone is not it.
func TestProcIdentity(t *testing.T) {
	self, err := procOf(os.Getpid())
	if err != nil || self.start == 0 || !self.alive() {
		t.Fatalf("own process: %+v, %v", self, err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone := proc{pid: cmd.Process.Pid, start: 1}
	if gone.alive() {
		t.Errorf("process %d alive after it exited", gone.pid)
	}
	if moved := (proc{pid: self.pid, start: self.start + 1}); moved.alive() {
		t.Error("another start time passes for the same process")
	}
}

// The pod of a sandbox process: its network namespace, interfaces and
// cgroup, read from /proc; a sandbox in the node's own namespace is of the
// host's network.
func TestSandboxNetwork(t *testing.T) {
	testkernel.Require(t)
	host, ns, _, _ := testkernel.VethPair(t)
	peer := "bpfp" + strings.TrimPrefix(host, "bpft")
	sandbox := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := sandbox.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sandbox.Process.Kill(); _ = sandbox.Wait() }()
	n, err := newNode()
	if err != nil {
		t.Fatal(err)
	}
	var ap attach.Pod
	// ip netns exec enters the namespace before it runs sleep.
	for range 100 {
		if ap = (attach.Pod{}); locateSandbox(n, sandbox.Process.Pid, &ap) == nil && ap.Netns != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ap.HostNetwork || ap.Netns == "" || ap.NetnsIno == n.ownNetns {
		t.Fatalf("sandbox in %s: %+v", ns, ap)
	}
	if !slices.Contains(ap.Interfaces, peer) || !slices.Contains(ap.Interfaces, "lo") || slices.Contains(ap.Interfaces, host) {
		t.Errorf("interfaces %v, want %s and lo only", ap.Interfaces, peer)
	}
	if ap.Cgroup != "" {
		t.Errorf("cgroup %q of a process at the cgroup v2 root: want none", ap.Cgroup)
	}
	if ap.Primary != "" {
		t.Errorf("primary %q in a namespace without a default route", ap.Primary)
	}
	own := attach.Pod{}
	if err := locateSandbox(n, os.Getpid(), &own); err != nil || !own.HostNetwork || own.Netns != "" {
		t.Errorf("a sandbox in the node's namespace: %+v, %v; want hostNetwork", own, err)
	}
	if pids := n.processes(os.Getpid()); !slices.Contains(pids, os.Getpid()) {
		t.Errorf("processes of the test's cgroups %v lack the test", pids)
	}
}

// locateSandbox fills in ap as if pid were its pod's sandbox.
func locateSandbox(n *node, pid int, ap *attach.Pod) error {
	p, err := procOf(pid)
	if err != nil {
		return err
	}
	sb, err := newSandbox(n, p)
	if err != nil {
		return err
	}
	ap.Cgroup = sb.cgroup
	return sb.network(ap)
}

// A pod's cgroup is its sandbox's parent (kubepods/…/pod<uid>), and a
// container's processes are those its cgroup v2 directory lists.
func TestSandboxCgroup(t *testing.T) {
	testkernel.Require(t)
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	pod := tempCgroup(t)
	moveTo(t, filepath.Join(pod, "sandbox"), sleep.Process.Pid)
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	n, err := newNode()
	if err != nil {
		t.Fatal(err)
	}
	var ap attach.Pod
	if err := locateSandbox(n, sleep.Process.Pid, &ap); err != nil || ap.Cgroup != pod {
		t.Errorf("pod cgroup %q (%v), want %s", ap.Cgroup, err, pod)
	}
	if pids := n.processes(sleep.Process.Pid); !slices.Equal(pids, []int{sleep.Process.Pid}) || n.read {
		t.Errorf("processes %v (scanned: %v), want [%d] from its cgroup.procs", pids, n.read, sleep.Process.Pid)
	}
}

// tempCgroup makes an empty cgroup v2 directory, removed (with those
// below it) when the test ends.
func tempCgroup(tb testing.TB) string {
	tb.Helper()
	root := attach.Cgroup2Root()
	if root == "" {
		tb.Fatal("no cgroup v2 hierarchy mounted")
	}
	dir, err := os.MkdirTemp(root, "bpfleet-test-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { removeCgroups(tb, dir) })
	return dir
}

// moveTo makes cgroup dir and moves process pid into it.
func moveTo(tb testing.TB, dir string, pid int) {
	tb.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// removeCgroups removes dir and the cgroups below it, once their
// processes are gone.
func removeCgroups(tb testing.TB, dir string) {
	subs, _ := filepath.Glob(filepath.Join(dir, "*", "cgroup.procs"))
	for _, s := range subs {
		removeCgroups(tb, filepath.Dir(s))
	}
	var err error
	for range 100 {
		if err = os.Remove(dir); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Errorf("cgroup %s left behind: %v", dir, err)
}

func TestUnifiedCgroup(t *testing.T) {
	for file, want := range map[string]string{
		"4:memory:/kubepods/pod1/abc\n0::/kubepods/pod1/abc\n": "/kubepods/pod1/abc",
		"0::/\n":                          "/",
		"12:pids:/x\n1:name=systemd:/x\n": "",
	} {
		if got := unifiedCgroup(file); got != want {
			t.Errorf("unifiedCgroup(%q) = %q, want %q", file, got, want)
		}
	}
}

func TestInfoPID(t *testing.T) {
	if pid, err := infoPID("sandbox x", map[string]string{"info": `{"pid": 42, "runtimeSpec": {}}`}); pid != 42 || err != nil {
		t.Errorf("pid %d, %v", pid, err)
	}
	for _, info := range []map[string]string{nil, {"info": "{}"}, {"info": `{"pid": -1}`}, {"info": "not json"}} {
		if _, err := infoPID("sandbox x", info); err == nil {
			t.Errorf("info %v: no error", info)
		}
	}
	if _, err := NewCRI("/run/containerd/containerd.sock"); err == nil {
		t.Error("an endpoint without unix:// accepted")
	}
}
