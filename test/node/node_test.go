package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// install is the one-node cluster every test of this package runs on,
// with bpfleet installed from images of this tree.
var install *Install

func TestMain(m *testing.M) {
	if os.Getenv(testkernel.SkipEnv) == "1" {
		fmt.Println("test/node: the one-node cluster needs root and the kernel; skipped by " + testkernel.SkipEnv + "=1")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/node: the one-node cluster needs root (containerd, runc, the kubelet, bpf()); run as root or set "+testkernel.SkipEnv+"=1")
		os.Exit(1)
	}
	ctrllog.SetLogger(logr.Discard())
	before := hostState()
	root, err := controlplane.RepoRoot()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		start := time.Now()
		install, err = Up(ctx, root)
		cancel()
		fmt.Printf("test/node: cluster up and bpfleet installed in %v\n", time.Since(start).Round(100*time.Millisecond))
	}
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, "test/node:", err)
	}
	if code != 0 && install != nil {
		install.dumpState(os.Stderr)
	}
	if err := install.Down(); err != nil {
		fmt.Fprintln(os.Stderr, "test/node: stop:", err)
		code = 1
	}
	if after := hostState(); !slices.Equal(before, after) {
		fmt.Fprintf(os.Stderr, "test/node: the host changed: %q, then %q\n", before, after)
		code = 1
	}
	os.Exit(code)
}

// hostState is what of the host the node could change: mounts where the
// node mounts in its own namespace, iptables chains (the kubelet shares
// the host's network namespace), the node's cgroups and interfaces. It
// must read the same before Up and after Down.
func hostState() []string {
	points := hostMounts()
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, _ := exec.Command(cmd, "-t", table, "-S").Output()
			points = append(points, cmd+" "+table+": "+string(out))
		}
	}
	cgroups, _ := filepath.Glob(filepath.Join(cgroupFS, "*", cgroupRoot))
	points = append(points, cgroups...)
	for _, link := range []string{nodeLink, nodeLink + "p", cniBridge} {
		if exec.Command("ip", "link", "show", link).Run() == nil {
			points = append(points, "link "+link)
		}
	}
	return points
}

// hostMounts lists the host's mounts where the node mounts in its own
// namespace: none may show here.
func hostMounts() []string {
	raw, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == "/run" || f[4] == "/var/lib" || f[4] == "/var/log" || strings.HasPrefix(f[4], "/proc/sys/")) {
			points = append(points, f[4])
		}
	}
	return points
}

// The README's sample TracepointProgram goes Ready through the operator
// and agent pods; the kernel runs it (bpftool sees it, its map counts);
// the agent mounted bpffs (for the node) and tracefs (for itself) on a
// node that had neither; and
// deleting it leaves nothing in the kernel or under the pin root.
func TestSampleProgramRunsThroughThePods(t *testing.T) {
	p := applySample(t, "openat-counter")
	entry := reportEntry(t, p.UID)
	if name := bpftoolProgName(t, entry.ProgramID); name != "count_openat" {
		t.Errorf("bpftool prog show id %d: name %q, want count_openat", entry.ProgramID, name)
	}
	// The node had neither bpffs nor tracefs: the agent mounted both (a
	// tracepoint attaches by tracefs's IDs), and its bpffs mount reached
	// the node, so that pins outlive its pod.
	if err := install.inNamespace("mountpoint", "-q", "/sys/fs/bpf"); err != nil {
		t.Errorf("the node has no bpffs after the agent started: %v", err)
	}
	pins := "/sys/fs/bpf/bpfleet/" + string(p.UID)
	if err := install.inNamespace("test", "-d", pins); err != nil {
		t.Errorf("no pins at %s on the node: %v", pins, err)
	}

	if out, err := install.Kubectl("delete", "tracepointprogram/openat-counter", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl delete: %v\n%s", err, out)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return exec.Command("bpftool", "prog", "show", "id", strconv.Itoa(int(entry.ProgramID))).Run() != nil, nil
	}); err != nil {
		t.Errorf("program %d still loaded after the delete", entry.ProgramID)
	}
	if err := install.inNamespace("test", "!", "-e", pins); err != nil {
		t.Errorf("pins left at %s after the delete", pins)
	}
}

// applySample applies the README's sample TracepointProgram under name,
// its image in the node's registry, as a user would (kubectl apply, then
// kubectl wait), and returns it once Ready.
func applySample(t *testing.T, name string) *bpfleetv1.TracepointProgram {
	t.Helper()
	sample, err := os.ReadFile(filepath.Join(install.root, "config", "samples", "tracepoint_counter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.ReplaceAll(string(sample), "127.0.0.1:5000/bpfleet/tracepoint-counter:v1", install.Examples["tracepoint-counter"])
	manifest = strings.ReplaceAll(manifest, "name: openat-counter", "name: "+name)
	if out, err := install.kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := install.Kubectl("wait", "--for=condition=Ready", "tracepointprogram/"+name, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, out)
	}
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	p := &bpfleetv1.TracepointProgram{}
	if err := k.Get(context.Background(), types.NamespacedName{Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// reportEntry is the node's report of the program uid.
func reportEntry(t *testing.T, uid types.UID) bpfleetv1.NodeProgramStatus {
	t.Helper()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	e, err := nodereport.Entry(context.Background(), k, NodeName, uid)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// bpftoolProgName is the name bpftool shows for program id.
func bpftoolProgName(t *testing.T, id uint32) string {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", "prog", "show", "id", strconv.Itoa(int(id))).Output()
	if err != nil {
		t.Fatalf("bpftool prog show id %d: %v", id, err)
	}
	var prog struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &prog); err != nil {
		t.Fatal(err)
	}
	return prog.Name
}
