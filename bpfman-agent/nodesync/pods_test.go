package nodesync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/pods"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"github.com/cilium/ebpf/link"
)

// processRuntime stands for the node's container runtime where no kubelet
// runs: it names, per pod UID and container ID, a real process the test
// started (test/node runs the real one, containerd).
type processRuntime struct {
	mu         sync.Mutex
	sandboxes  map[string]int
	containers map[string]int
}

func (r *processRuntime) SandboxPID(_ context.Context, uid string) (int, error) {
	return r.lookup(r.sandboxes, uid)
}

func (r *processRuntime) ContainerPID(_ context.Context, id string) (int, error) {
	return r.lookup(r.containers, id)
}

// setSandbox makes pid the process of pod uid's sandbox.
func (r *processRuntime) setSandbox(uid types.UID, pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sandboxes[string(uid)] = pid
}

func (r *processRuntime) lookup(m map[string]int, key string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pid, ok := m[key]; ok {
		return pid, nil
	}
	return 0, fmt.Errorf("%s: %w", key, pods.ErrNotFound)
}

// An agent with pod targets: an XDP counter on the interface of the pods
// labelled app=web attaches inside the one running pod's network
// namespace, counts what it receives, is reported by pod, and is detached
// when the pod goes; a pod of another label is never matched.
func TestPodTargetsReported(t *testing.T) {
	testkernel.Require(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	peer := "bpfp" + strings.TrimPrefix(host, "bpft")
	sandbox := exec.Command("ip", "netns", "exec", ns, "sleep", "600")
	if err := sandbox.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sandbox.Process.Kill(); _ = sandbox.Wait() })
	rt := &processRuntime{sandboxes: map[string]int{}, containers: map[string]int{}}

	plane := startPlane(t)
	mnt := testkernel.TempBPFFS(t)
	obj := filepath.Join(t.TempDir(), "xdp.o")
	if err := os.WriteFile(obj, bpf.XDPCounter, 0o644); err != nil {
		t.Fatal(err)
	}
	const node = "pod-node"
	mgr, err := NewManager(plane.Config, Scheme(), Options{
		NodeName: node, PinRoot: filepath.Join(mnt, "bpfleet"), BPFFSMountAt: mnt, ImageDir: t.TempDir(),
		MetricsAddr: "0", LeaseNamespace: controlplane.Namespace, InProcess: true, Pods: PodOptions{Runtime: rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := startManager(t, mgr)
	waitReport(t, ctx, mgr.GetAPIReader(), node)
	c := mgr.GetClient()
	web := runningPod(t, ctx, c, node, "team-a", "web-1", map[string]string{"app": "web"})
	runningPod(t, ctx, c, node, "team-a", "db-1", map[string]string{"app": "db"})
	rt.setSandbox(web.UID, sandbox.Process.Pid)

	schedulePodCounter(t, ctx, mgr.GetAPIReader(), c, node, "uid-pods", obj, peer)
	var entry bpfleetv1.NodeProgramStatus
	waitEntryOf(t, ctx, mgr, node, "uid-pods", "the pod's link", func(st bpfleetv1.NodeProgramStatus) bool {
		entry = st
		return st.State == bpfleetv1.StateReady && st.Pods != nil && st.Pods.Matched == 1 && st.Pods.Attached == 1 &&
			len(st.Objects.Links) == 1
	})
	if got, want := entry.Objects.Links[0].Target, "team-a/web-1:"+peer; got != want {
		t.Errorf("link target %q, want %q", got, want)
	}
	if got := testkernel.Ping(t, ns, hostIP, 3); got != 3 {
		t.Fatalf("%d of 3 pings answered", got)
	}
	if n := testkernel.MapValue(t, entry.Objects.MapIDs["packets"], uint32(0)); n < 3 {
		t.Errorf("counted %d packets reaching the pod, want at least 3 (the ping replies)", n)
	}

	// No kubelet confirms the pod's end here: delete it at once.
	if err := c.Delete(ctx, web, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	waitEntryOf(t, ctx, mgr, node, "uid-pods", "no pod matched", func(st bpfleetv1.NodeProgramStatus) bool {
		entry = st
		return st.State == bpfleetv1.StateReady && st.Pods != nil && st.Pods.Matched == 0 && len(st.Objects.Links) == 0
	})
	if !strings.Contains(entry.Message, "no running pod") {
		t.Errorf("message %q", entry.Message)
	}
	links, err := filepath.Glob(filepath.Join(entry.PinPath, "links", "*", "*"))
	if err != nil || len(links) != 0 {
		t.Errorf("links pinned after the pod went: %v %v", links, err)
	}
}

// A pod that dies while its node's agent is down leaves nothing behind:
// the agent that comes back finds the pod gone and its link's pin, which
// held a link detached from a namespace that is no more, is removed, and
// the kernel frees the link.
func TestPodGoneWhileAgentDown(t *testing.T) {
	testkernel.Require(t)
	host, ns, _, _ := testkernel.VethPair(t)
	peer := "bpfp" + strings.TrimPrefix(host, "bpft")
	sandbox := exec.Command("ip", "netns", "exec", ns, "sleep", "600")
	if err := sandbox.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sandbox.Process.Kill(); _ = sandbox.Wait() })
	plane := startPlane(t)
	mnt := testkernel.TempBPFFS(t)
	obj := filepath.Join(t.TempDir(), "xdp.o")
	if err := os.WriteFile(obj, bpf.XDPCounter, 0o644); err != nil {
		t.Fatal(err)
	}
	const node = "pod-down-node"
	rt := &processRuntime{sandboxes: map[string]int{}, containers: map[string]int{}}
	opts := Options{
		NodeName: node, PinRoot: filepath.Join(mnt, "bpfleet"), BPFFSMountAt: mnt, ImageDir: t.TempDir(),
		MetricsAddr: "0", LeaseNamespace: controlplane.Namespace, InProcess: true, Pods: PodOptions{Runtime: rt},
	}
	mgr, err := NewManager(plane.Config, Scheme(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = mgr.Start(ctx); close(done) }()
	waitReport(t, ctx, mgr.GetAPIReader(), node)
	c := mgr.GetClient()
	web := runningPod(t, ctx, c, node, "team-d", "web-1", map[string]string{"app": "web"})
	rt.setSandbox(web.UID, sandbox.Process.Pid)
	schedulePodCounter(t, ctx, mgr.GetAPIReader(), c, node, "uid-down", obj, peer)
	var entry bpfleetv1.NodeProgramStatus
	waitEntryOf(t, ctx, mgr, node, "uid-down", "the pod's link", func(st bpfleetv1.NodeProgramStatus) bool {
		entry = st
		return st.Pods != nil && st.Pods.Attached == 1 && len(st.Objects.Links) == 1
	})
	linkID := entry.Objects.Links[0].LinkID
	stop()
	<-done

	// The pod dies with the agent down: its sandbox and network
	// namespace go, and the API forgets it.
	_ = sandbox.Process.Kill()
	_ = sandbox.Wait()
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	api, err := client.New(plane.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Delete(context.Background(), web, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}

	mgr, err = NewManager(plane.Config, Scheme(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx = startManager(t, mgr)
	waitEntryOf(t, ctx, mgr, node, "uid-down", "no pod matched after the restart", func(st bpfleetv1.NodeProgramStatus) bool {
		entry = st
		return st.State == bpfleetv1.StateReady && st.Pods != nil && st.Pods.Matched == 0 && len(st.Objects.Links) == 0
	})
	links, err := filepath.Glob(filepath.Join(entry.PinPath, "links", "*", "*"))
	if err != nil || len(links) != 0 {
		t.Errorf("links pinned after the restart: %v %v", links, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		l, err := link.NewFromID(link.ID(linkID))
		if err == nil {
			l.Close()
		}
		return errors.Is(err, os.ErrNotExist), nil
	})
	if err != nil {
		t.Errorf("link %d still in the kernel after the restart", linkID)
	}
}

// schedulePodCounter writes node's set: one XDP counter (uid, generic
// mode: every kernel of the tests has XDP links, not all TCX) on
// interface iface of the pods labelled app=web.
func schedulePodCounter(t *testing.T, ctx context.Context, r client.Reader, c client.Client, node string, uid types.UID, obj, iface string) {
	t.Helper()
	set := &bpfleetv1.NodeProgramSet{}
	if err := r.Get(ctx, types.NamespacedName{Name: node}, set); err != nil {
		t.Fatal(err)
	}
	set.Spec.Scheduled = true
	set.Spec.Programs = bpfleetv1.NodeProgramEntries{{
		UID: uid, Kind: "XdpProgram", Name: "counter", Generation: 1, Path: obj, ProgramName: "xdp_count",
		Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookXDP, bpfleetv1.XDPAttach{
			Interfaces:        bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(iface)}},
			Mode:              bpfleetv1.XDPGeneric,
			NetworkNamespaces: &bpfleetv1.PodSelector{Pods: bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		}),
	}}
	if err := c.Update(ctx, set); err != nil {
		t.Fatal(err)
	}
}

// runningPod creates pod namespace/name on node, as a kubelet would have
// it: Running.
func runningPod(t *testing.T, ctx context.Context, c client.Client, node, namespace, name string, labels map[string]string) *corev1.Pod {
	t.Helper()
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := c.Create(ctx, nsObj); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "example.com/app:v1"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// A pod's update starts a pass only when what pod targets plan from
// changed: not for a readiness flip or a new resourceVersion, which each
// give the slimmed pod a copy of its own.
func TestPodUpdatesThatStartAPass(t *testing.T) {
	pod := func(rv, containerID string, ready bool, labels map[string]string) any {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web", ResourceVersion: rv, Labels: labels}}
		p.Spec.NodeName = "n"
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionStatus(strconv.FormatBool(ready))}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: containerID, Ready: ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		slim, _ := slimPod(p)
		return slim
	}
	web := map[string]string{"app": "web"}
	for _, tc := range []struct {
		name     string
		old, cur any
		want     bool
	}{
		{"resourceVersion and readiness", pod("1", "c://1", true, web), pod("2", "c://1", false, web), false},
		{"a container restarted", pod("1", "c://1", true, web), pod("2", "c://2", true, web), true},
		{"labels", pod("1", "c://1", true, web), pod("2", "c://1", true, map[string]string{"app": "db"}), true},
	} {
		if got := changed(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: changed %v, want %v", tc.name, got, tc.want)
		}
	}
}
