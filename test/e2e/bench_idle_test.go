package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/buildinfo"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/images"
	"github.com/bpfleet/bpfleet/internal/scheme"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"github.com/bpfleet/bpfleet/internal/testproc"
)

// idleWindow is how long each idle reading lasts: long enough to hold one
// agent resync (every minute).
const idleWindow = 65 * time.Second

// footprint is one process's idle reading.
type footprint struct {
	rssMiB float64 // VmRSS at the end of the window
	cpuPct float64 // utime+stime over the window, in % of one core
}

var (
	idleOnce    sync.Once
	idleResults map[string]footprint
	idleErr     error
	// idleSetup1000 is how long the 1,000 programs took to be Ready.
	idleSetup1000 time.Duration
	// idleBinaryMiB is the size of each binary measured.
	idleBinaryMiB = map[string]float64{}
)

// idleTracepoints are the syscalls the idle programs attach to, in turn:
// 40 programs each at 1,000, under the kernel's 64 per tracepoint, and
// none the other tests count (they use openat).
var idleTracepoints = []string{
	"getcpu", "getcwd", "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpgid", "getpgrp",
	"getppid", "getpriority", "getresgid", "getresuid", "getrlimit", "getrusage", "getsid", "gettid",
	"getuid", "getxattr", "get_mempolicy", "sysinfo", "times", "newuname", "umask", "sched_yield",
}

// BenchmarkIdleFootprint runs the operator and the agent as the binaries a
// cluster runs (separate processes against their own kube-apiserver), and
// reads their resident memory (/proc/<pid>/status VmRSS) and CPU
// (/proc/<pid>/stat utime+stime over 65 s) while idle, with 0, then 50,
// then 1,000 TracepointPrograms loaded (spread over idleTracepoints: the
// kernel attaches at most 64 programs to one tracepoint). The baseline,
// measured beside them, is a bare controller-runtime manager
// (test/e2e/baseline). It also reports each binary's size (its code is
// mapped, and most of it resident) and how long the 1,000 programs took to
// be Ready. It measures once, whatever b.N. BPFLEET_IDLE_AGENT_PPROF=addr
// serves the agent's /debug/pprof there, to profile what it holds.
func BenchmarkIdleFootprint(b *testing.B) {
	testkernel.Require(b)
	idleOnce.Do(func() { idleResults, idleErr = measureIdle(b) })
	if idleErr != nil {
		b.Fatal(idleErr)
	}
	base := idleResults["baseline"]
	b.ReportMetric(base.rssMiB, "baseline-rss-MiB")
	for name, mib := range idleBinaryMiB {
		b.ReportMetric(mib, name+"-binary-MiB")
	}
	b.ReportMetric(idleSetup1000.Seconds(), "ready-1000-s")
	for _, k := range []string{"operator/0", "agent/0", "operator/50", "agent/50", "operator/1000", "agent/1000"} {
		r := idleResults[k]
		name := strings.ReplaceAll(k, "/", "-")
		b.ReportMetric(r.rssMiB, name+"-rss-MiB")
		b.ReportMetric(r.rssMiB/base.rssMiB, name+"-rss/baseline")
		b.ReportMetric(r.cpuPct, name+"-cpu-%")
	}
}

func measureIdle(b *testing.B) (map[string]footprint, error) {
	plane, err := controlplane.Start()
	if err != nil {
		return nil, err
	}
	defer plane.Stop()
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := plane.Kubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	c, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	const node = "idle-node"
	if err := c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		return nil, err
	}
	bins := buildBinaries(b, dir)
	pinRoot := fmt.Sprintf("/sys/fs/bpf/bpfleet-idle-%d", os.Getpid())
	defer os.RemoveAll(pinRoot)
	env := []string{"KUBECONFIG=" + kubeconfig}
	baseline := testproc.Start(b, dir, bins["baseline"], env)
	operator := testproc.Start(b, dir, bins["bpfleet-operator"], env, "--metrics-bind-address=0", "--health-probe-bind-address=0")
	agent := testproc.Start(b, dir, bins["bpfman-agent"], env, "--node-name="+node, "--pin-root="+pinRoot,
		"--image-cache="+filepath.Join(dir, "images"), "--state-dir="+filepath.Join(dir, "state"),
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		// Its CSI driver serving, as the DaemonSet runs it.
		"--csi-endpoint="+filepath.Join(dir, "csi.sock"), "--kubelet-dir="+filepath.Join(dir, "kubelet"),
		"--pprof-bind-address="+os.Getenv("BPFLEET_IDLE_AGENT_PPROF"))
	obj := filepath.Join(dir, "counter.o")
	if err := os.WriteFile(obj, bpf.TracepointCounter, 0o644); err != nil {
		return nil, err
	}
	out := map[string]footprint{}
	time.Sleep(5 * time.Second) // both started and synced
	out["operator/0"], out["agent/0"] = readIdle(b, operator, agent)
	out["baseline"] = footprint{rssMiB: testproc.RSS(b, baseline)}

	for name, bin := range bins {
		fi, err := os.Stat(bin)
		if err != nil {
			return nil, err
		}
		idleBinaryMiB[strings.TrimPrefix(name, "bpfleet-")] = float64(fi.Size()) / (1 << 20)
	}
	var progs []*bpfleetv1.TracepointProgram
	for _, n := range []int{50, 1000} {
		start := time.Now()
		for i := len(progs); i < n; i++ {
			p := counter(fmt.Sprintf("idle-%d", i), "", nil)
			p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: obj}
			p.Spec.Tracepoint.Name = "syscalls/sys_enter_" + idleTracepoints[i%len(idleTracepoints)]
			if err := c.Create(ctx, p); err != nil {
				return nil, err
			}
			progs = append(progs, p)
		}
		for _, p := range progs {
			waitReady(b, c, p.Name)
		}
		if n == 1000 {
			idleSetup1000 = time.Since(start)
		}
		out[fmt.Sprintf("operator/%d", n)], out[fmt.Sprintf("agent/%d", n)] = readIdle(b, operator, agent)
	}
	for _, p := range progs {
		if err := c.Delete(ctx, p); err != nil {
			return nil, err
		}
	}
	for _, p := range progs {
		waitGone(b, c, p.Name)
	}
	return out, nil
}

// readIdle reads both processes over one idle window.
func readIdle(b *testing.B, operator, agent *exec.Cmd) (footprint, footprint) {
	op0, ag0 := testproc.CPU(b, operator), testproc.CPU(b, agent)
	time.Sleep(idleWindow)
	op1, ag1 := testproc.CPU(b, operator), testproc.CPU(b, agent)
	pct := func(t0, t1 time.Duration) float64 { return (t1 - t0).Seconds() / idleWindow.Seconds() * 100 }
	return footprint{rssMiB: testproc.RSS(b, operator), cpuPct: pct(op0, op1)},
		footprint{rssMiB: testproc.RSS(b, agent), cpuPct: pct(ag0, ag1)}
}

// buildBinaries builds the operator and the agent as a cluster runs them:
// static and stripped, as internal/images builds them, and the
// baseline alike.
func buildBinaries(b *testing.B, dir string) map[string]string {
	out := map[string]string{}
	host := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	for name, pkg := range map[string]string{"bpfleet-operator": "../../cmd/bpfleet-operator", "bpfman-agent": "../../bpfman-agent", "baseline": "./baseline"} {
		bin := filepath.Join(dir, name)
		if err := images.Binary(context.Background(), ".", pkg, bin, host, buildinfo.Stamp{}); err != nil {
			b.Fatal(err)
		}
		out[name] = bin
	}
	return out
}
