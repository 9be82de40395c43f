package pods

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkLocate finds, from /proc, where one pod runs once the runtime
// named its sandbox's process: what every listing reads of the node
// (listing-µs), first its network namespace, interfaces and cgroup, the
// node's cgroup v2 root with them (locate-µs), then, on each later pass,
// its interfaces only
// (again-µs); and the processes of one of its containers, from its cgroup
// v2 directory (container-procs-µs), or, where there is none, from every
// process of the node, once per listing (scan-µs; procs-per-scan says how
// many).
func BenchmarkLocate(b *testing.B) {
	testkernel.Require(b)
	_, ns, _, _ := testkernel.VethPair(b)
	sandbox := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := sandbox.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sandbox.Process.Kill(); _ = sandbox.Wait() })
	time.Sleep(100 * time.Millisecond) // ip has entered the namespace and run sleep
	container := exec.Command("sleep", "60")
	if err := container.Start(); err != nil {
		b.Fatal(err)
	}
	moveTo(b, filepath.Join(tempCgroup(b), "container"), container.Process.Pid)
	b.Cleanup(func() { _ = container.Process.Kill(); _ = container.Wait() })
	var listing, locate, again, procs, scan time.Duration
	scanned := 0
	for b.Loop() {
		start := time.Now()
		n, err := newNode()
		if err != nil {
			b.Fatal(err)
		}
		listing += time.Since(start)
		start = time.Now()
		var ap attach.Pod
		if err := locateSandbox(n, sandbox.Process.Pid, &ap); err != nil || ap.Netns == "" {
			b.Fatalf("%+v %v", ap, err)
		}
		locate += time.Since(start)
		sb, _ := newSandbox(n, proc{pid: sandbox.Process.Pid})
		start = time.Now()
		if err := sb.network(&ap); err != nil {
			b.Fatal(err)
		}
		again += time.Since(start)
		start = time.Now()
		if pids := n.processes(container.Process.Pid); len(pids) != 1 {
			b.Fatalf("container processes %v", pids)
		}
		procs += time.Since(start)
		start = time.Now()
		n.processes(os.Getpid()) // at the root: every process is read
		scan += time.Since(start)
		scanned = 0
		for _, pids := range n.procs {
			scanned += len(pids)
		}
	}
	b.ReportMetric(float64(listing.Microseconds())/float64(b.N), "listing-µs/op")
	b.ReportMetric(float64(locate.Microseconds())/float64(b.N), "locate-µs/op")
	b.ReportMetric(float64(again.Microseconds())/float64(b.N), "again-µs/op")
	b.ReportMetric(float64(procs.Microseconds())/float64(b.N), "container-procs-µs/op")
	b.ReportMetric(float64(scan.Microseconds())/float64(b.N), "scan-µs/op")
	b.ReportMetric(float64(scanned), "procs-per-scan")
}
