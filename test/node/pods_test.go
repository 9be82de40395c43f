package node

import (
	"bytes"
	"cmp"
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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// podTcx is a TcxProgram counting the packets through the eth0 of the
// pods labelled app=<label> in namespace <ns>, in direction <dir>.
const podTcx = `apiVersion: bpfleet.io/v1alpha1
kind: TcxProgram
metadata:
  name: %s
spec:
  byteCode:
    image:
      ref: %s
  programName: tc_count
  tcx:
    interfaces:
      names: [eth0]
    direction: %s
    networkNamespaces:
      pods:
        matchLabels: {app: %s}
      namespaces:
        matchLabels: {kubernetes.io/metadata.name: %s}
`

// A TcxProgram with networkNamespaces attaches on the eth0 inside the
// one pod its selector matches, found through containerd's CRI socket as
// the shipped DaemonSet mounts it: the report names the link by pod, the
// program says 1/1 pods, and its counter (egress) counts what that pod
// sends, nothing of what its neighbour on the bridge sends. The agent
// logs no error of the container runtime.
func TestPodTargetsTCX(t *testing.T) {
	target := buildPodTarget(t)
	k := podClient(t)
	ns := testNamespace(t, k, "pods-tcx")
	counted, other := countedAndOther(t, k, ns, target.Image)
	uid := applyProgram(t, "tcxprogram", "pods-tcx", fmt.Sprintf(podTcx, "pods-tcx", install.Examples["tc-counter"], "egress", "counted", ns))
	entry := waitOnePod(t, uid, "tcxprogram/pods-tcx", ns+"/counted:eth0")
	if ids := kernelLinks(t, entry.ProgramID); !slices.Equal(ids, []uint32{entry.Objects.Links[0].LinkID}) {
		t.Errorf("the kernel has links %v of program %d, want the report's %d", ids, entry.ProgramID, entry.Objects.Links[0].LinkID)
	}
	countsOnly(t, entry.Objects.MapIDs["packets"], counted, other)
	checkAgentLogs(t, "container runtime", "containerd", "grpc")
}

// countedAndOther starts two podtarget pods in ns: counted (labelled
// app=counted) and other (app=other).
func countedAndOther(t *testing.T, k client.Client, ns, image string) (counted, other *corev1.Pod) {
	t.Helper()
	counted = startPod(t, k, podTargetPod(ns, "counted", image, map[string]string{"app": "counted"}))
	other = startPod(t, k, podTargetPod(ns, "other", image, map[string]string{"app": "other"}))
	return counted, other
}

// waitOnePod waits until the report's entry of program uid (resource)
// is attached in one pod of one, on target, and its status says 1/1.
func waitOnePod(t *testing.T, uid types.UID, resource, target string) bpfleetv1.NodeProgramStatus {
	t.Helper()
	entry := waitEntry(t, uid, "1 of 1 pods attached", func(e bpfleetv1.NodeProgramStatus) bool {
		return e.Pods != nil && e.Pods.Matched == 1 && e.Pods.Attached == 1 && len(e.Objects.Links) == 1
	})
	if got := entry.Objects.Links[0].Target; got != target {
		t.Errorf("the report's link target is %q, want %q", got, target)
	}
	waitJSONPath(t, resource, "{.status.pods.summary}", "1/1")
	return entry
}

// pokes is how many datagrams a pod is asked to answer; background is
// how many packets of its own a quiet pod may send meanwhile (a neighbour
// entry refreshed: ARP or IPv6 neighbour discovery), which its counter
// counts too.
const (
	pokes      = 50
	background = 3
)

// countsOnly checks that the counter of map packets counts what pod
// counted sends, and nothing of what pod other sends: pokes datagrams
// answered by each.
func countsOnly(t *testing.T, packets uint32, counted, other *corev1.Pod) {
	t.Helper()
	waitServing(t, counted.Status.PodIP)
	waitServing(t, other.Status.PodIP)
	before := quietCounter(t, packets)
	poke(t, other.Status.PodIP, pokes)
	time.Sleep(300 * time.Millisecond)
	if n := testkernel.MapValue(t, packets, uint32(0)); n > before+background {
		t.Errorf("%d datagrams from the other pod raised the counted pod's counter from %d to %d", pokes, before, n)
	}
	before = testkernel.MapValue(t, packets, uint32(0))
	poke(t, counted.Status.PodIP, pokes)
	if n := testkernel.MapValue(t, packets, uint32(0)); n < before+pokes {
		t.Errorf("%d datagrams from the counted pod raised its counter from %d to %d, want at least %d", pokes, before, n, before+pokes)
	}
}

// testNamespace creates namespace name, deleted when the test ends.
func testNamespace(t *testing.T, k client.Client, name string) string {
	t.Helper()
	mustCreate(t, k, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	t.Cleanup(func() { _, _ = install.Kubectl("delete", "namespace", name, "--timeout=2m") })
	return name
}

// startPod creates pod and waits until it runs (its IP filled in).
func startPod(t *testing.T, k client.Client, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	mustCreate(t, k, pod)
	waitPodRunning(t, k, pod)
	return pod
}

func podClient(t *testing.T) client.Client {
	t.Helper()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// applyProgram applies manifest, a program resource (kind/name), as a
// user would, deletes it when the test ends, and returns its UID once
// it is Ready.
func applyProgram(t *testing.T, kind, name, manifest string) types.UID {
	t.Helper()
	if out, err := install.kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = install.Kubectl("delete", kind+"/"+name, "--timeout=2m") })
	if out, err := install.Kubectl("wait", "--for=condition=Ready", kind+"/"+name, "--timeout=2m"); err != nil {
		st, _ := install.Kubectl("get", kind+"/"+name, "-o", "jsonpath={.status}")
		t.Fatalf("kubectl wait: %v\n%s\nstatus: %s", err, out, st)
	}
	out, err := install.Kubectl("get", kind+"/"+name, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	return types.UID(out)
}

// waitEntry waits until the node's report of program uid satisfies ok
// (what it waits for), and returns it.
func waitEntry(t *testing.T, uid types.UID, what string, ok func(bpfleetv1.NodeProgramStatus) bool) bpfleetv1.NodeProgramStatus {
	t.Helper()
	k := podClient(t)
	var entry bpfleetv1.NodeProgramStatus
	var lastErr error
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		e, err := nodereport.Entry(ctx, k, NodeName, uid)
		if err != nil {
			lastErr = err
			return false, nil
		}
		entry = e
		return ok(entry), nil
	}); err != nil {
		raw, _ := json.MarshalIndent(entry, "", "  ")
		t.Fatalf("the report never said %s (last error: %v); its entry:\n%s", what, lastErr, raw)
	}
	return entry
}

// waitJSONPath waits until kubectl get resource shows want at path.
func waitJSONPath(t *testing.T, resource, path, want string) {
	t.Helper()
	waitJSONPathIn(t, "", resource, path, want)
}

// waitJSONPathIn is waitJSONPath for a resource of namespace ns.
func waitJSONPathIn(t *testing.T, ns, resource, path, want string) {
	t.Helper()
	var got string
	get := func(path string) string {
		out, _ := install.Kubectl("get", resource, "--namespace="+cmp.Or(ns, "default"), "-o", "jsonpath="+path)
		return out
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		got = get(path)
		return got == want, nil
	}); err != nil {
		t.Fatalf("%s %s is %q, want %q; status: %s", resource, path, got, want, get("{.status}"))
	}
}

// waitReady waits until resource's Ready condition is True with reason.
func waitReady(t *testing.T, resource, reason string) {
	t.Helper()
	waitJSONPath(t, resource, `{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}`, "True/"+reason)
}

// kernelLinks lists the kernel's links of program id (bpftool link).
func kernelLinks(t *testing.T, id uint32) []uint32 {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", "link", "show").Output()
	if err != nil {
		t.Fatalf("bpftool link show: %v", err)
	}
	var links []struct {
		ID     uint32 `json:"id"`
		ProgID uint32 `json:"prog_id"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("bpftool link show: %v", err)
	}
	var ids []uint32
	for _, l := range links {
		if l.ProgID == id {
			ids = append(ids, l.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// linkIDs are the report's link IDs of entry, sorted.
func linkIDs(entry bpfleetv1.NodeProgramStatus) []uint32 {
	var ids []uint32
	for _, l := range entry.Objects.Links {
		ids = append(ids, l.LinkID)
	}
	slices.Sort(ids)
	return ids
}

// quietCounter waits until the counter of map id holds still for two
// seconds (a new pod's own chatter, IPv6 router solicitations and
// multicast reports, ends within seconds), and returns it.
func quietCounter(t *testing.T, id uint32) uint64 {
	t.Helper()
	last, since := testkernel.MapValue(t, id, uint32(0)), time.Now()
	for deadline := time.Now().Add(time.Minute); time.Since(since) < 2*time.Second; {
		if time.Now().After(deadline) {
			t.Fatalf("counter of map %d never held still: %d", id, last)
		}
		time.Sleep(250 * time.Millisecond)
		if n := testkernel.MapValue(t, id, uint32(0)); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// checkAgentLogs fails if the agent's log has a line naming any of
// words (case-insensitive): the agent logs nothing of its container
// runtime while it works.
func checkAgentLogs(t *testing.T, words ...string) {
	t.Helper()
	logs, err := install.Kubectl("logs", "-n", Namespace, "daemonset/"+Agent)
	if err != nil {
		t.Fatalf("kubectl logs: %v\n%s", err, logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		for _, w := range words {
			if strings.Contains(strings.ToLower(line), strings.ToLower(w)) {
				t.Errorf("the agent logs about %s: %s", w, line)
			}
		}
	}
}

// podUprobe is an UprobeProgram counting the calls of podtarget's
// function in container app of the pods labelled app=<label> in
// namespace <ns>.
const podUprobe = `apiVersion: bpfleet.io/v1alpha1
kind: UprobeProgram
metadata:
  name: %s
spec:
  byteCode:
    image:
      ref: %s
  programName: count_calls
  uprobe:
    target: /podtarget
    function: %s
    containers:
      pods:
        matchLabels: {app: %s}
      namespaces:
        matchLabels: {kubernetes.io/metadata.name: %s}
      containerNames: [app]
`

// An UprobeProgram with containers probes the binary inside the selected
// pod's container, for that container's process only: the report names
// the link by pod, container and process (the pod's own), calls made in
// the pod count, and the same calls made by the same file in another pod
// or on the host do not.
func TestPodTargetsUprobe(t *testing.T) {
	target := buildPodTarget(t)
	k := podClient(t)
	ns := testNamespace(t, k, "pods-uprobe")
	probed := startPod(t, k, podTargetPod(ns, "probed", target.Image, map[string]string{"app": "probed"}))
	other := startPod(t, k, podTargetPod(ns, "other", target.Image, map[string]string{"app": "other"}))

	uid := applyProgram(t, "uprobeprogram", "pods-uprobe", fmt.Sprintf(podUprobe, "pods-uprobe", install.Examples["uprobe-counter"], podTargetFunction, "probed", ns))
	entry := waitEntry(t, uid, "1 of 1 pods attached", func(e bpfleetv1.NodeProgramStatus) bool {
		return e.Pods != nil && e.Pods.Matched == 1 && e.Pods.Attached == 1 && len(e.Objects.Links) == 1
	})
	pid := probedPID(t, entry.Objects.Links[0].Target, ns+"/probed:app:")
	checkProcessOf(t, pid, probed, target.Path)
	waitJSONPath(t, "uprobeprogram/pods-uprobe", "{.status.pods.summary}", "1/1")

	calls := entry.Objects.MapIDs["calls"]
	waitServing(t, probed.Status.PodIP)
	waitServing(t, other.Status.PodIP)
	before := testkernel.MapValue(t, calls, uint32(0))
	poke(t, probed.Status.PodIP, 10)
	if n := testkernel.MapValue(t, calls, uint32(0)); n != before+10 {
		t.Errorf("10 calls in the probed pod moved the counter from %d to %d, want %d", before, n, before+10)
	}
	before = testkernel.MapValue(t, calls, uint32(0))
	poke(t, other.Status.PodIP, 10)
	if out, err := exec.Command(target.Path, "call", "7").CombinedOutput(); err != nil {
		t.Fatalf("podtarget call 7 on the host: %v\n%s", err, out)
	}
	if n := testkernel.MapValue(t, calls, uint32(0)); n != before {
		t.Errorf("calls in the other pod and on the host moved the counter from %d to %d, want no change", before, n)
	}
}

// probedPID is the process a link target "<prefix><pid>" names.
func probedPID(t *testing.T, target, prefix string) int {
	t.Helper()
	rest, ok := strings.CutPrefix(target, prefix)
	pid, err := strconv.Atoi(rest)
	if !ok || err != nil || pid <= 0 {
		t.Fatalf("the report's link target is %q, want %q and a PID", target, prefix+"<pid>")
	}
	return pid
}

// checkProcessOf checks that process pid is pod's (its cgroup names the
// pod's UID) and runs the same file as bin on the host.
func checkProcessOf(t *testing.T, pid int, pod *corev1.Pod, bin string) {
	t.Helper()
	proc := "/proc/" + strconv.Itoa(pid)
	cgroup, err := os.ReadFile(proc + "/cgroup")
	if err != nil || !strings.Contains(string(cgroup), "pod"+string(pod.UID)) {
		t.Errorf("process %d is not pod %s/%s's (%v):\n%s", pid, pod.Namespace, pod.Name, err, cgroup)
	}
	inPod, err := os.ReadFile(proc + "/root/podtarget")
	if err != nil {
		t.Fatal(err)
	}
	onHost, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inPod, onHost) {
		t.Fatalf("the pod's /podtarget differs from the host's %s", bin)
	}
}

// podCgroup is a CgroupProgram counting the packets the pods labelled
// app=<label> in namespace <ns> send (egress of their cgroup).
const podCgroup = `apiVersion: bpfleet.io/v1alpha1
kind: CgroupProgram
metadata:
  name: %s
spec:
  byteCode:
    image:
      ref: %s
  programName: cgroup_skb_count
  cgroup:
    type: egress
    cgroups:
      pods:
        matchLabels: {app: %s}
      namespaces:
        matchLabels: {kubernetes.io/metadata.name: %s}
`

// A CgroupProgram with cgroups attaches to the cgroup (v2) of the one pod
// its selector matches, and counts what that pod sends, nothing of what
// its neighbour sends. This host is cgroup v1 with v2 beside it: runc and
// the kubelet (cgroupfs driver) place each pod in the unified hierarchy
// too (<root>/kubepods/<qos>/pod<uid>/<container>), and the agent reaches
// it through the node's /sys/fs/cgroup, which the DaemonSet mounts (the
// runtime mounts no v2 in a pod here, and the VM's init, whose root the
// agent would otherwise go through, is not the node's).
func TestPodTargetsCgroup(t *testing.T) {
	target := buildPodTarget(t)
	k := podClient(t)
	ns := testNamespace(t, k, "pods-cgroup")
	counted, other := countedAndOther(t, k, ns, target.Image)
	unified := unifiedCgroupOf(t, podProcess(t, counted))
	podDir := filepath.Dir(unified)
	if _, err := os.Stat(filepath.Join(cgroupFS, "unified", unified)); err != nil || filepath.Base(podDir) != "pod"+string(counted.UID) {
		t.Fatalf("the pod's process is not in the unified hierarchy: %q (%v)", unified, err)
	}
	uid := applyProgram(t, "cgroupprogram", "pods-cgroup", fmt.Sprintf(podCgroup, "pods-cgroup", install.Examples["cgroup-counter"], "counted", ns))
	entry := waitOnePod(t, uid, "cgroupprogram/pods-cgroup", ns+"/counted:cgroup")
	if detail := entry.Objects.Links[0].Detail; !strings.HasSuffix(detail, podDir+" egress") {
		t.Errorf("the link is on %q, want the pod's cgroup %s", detail, podDir)
	}
	countsOnly(t, entry.Objects.MapIDs["packets"], counted, other)
}

// podProcess is the PID of the process of pod's container (podtarget),
// found by the pod's UID in the processes' cgroups.
func podProcess(t *testing.T, pod *corev1.Pod) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, file := range procs {
		cgroup, err := os.ReadFile(file)
		dir := filepath.Dir(file)
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		if err == nil && strings.Contains(string(cgroup), "/pod"+string(pod.UID)+"/") && strings.TrimSpace(string(comm)) == "podtarget" {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			return pid
		}
	}
	t.Fatalf("no podtarget process of pod %s/%s", pod.Namespace, pod.Name)
	return 0
}

// unifiedCgroupOf is process pid's cgroup in the unified hierarchy (its
// "0::" line), or "".
func unifiedCgroupOf(t *testing.T, pid int) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path
		}
	}
	return ""
}

// scaledDeployment is Deployment ns/name of podtarget pods labelled
// app=name, with no replica.
func scaledDeployment(ns, name, image string) *appsv1.Deployment {
	zero := int32(0)
	pod := podTargetPod(ns, "", image, map[string]string{"app": name})
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &zero,
			Selector: &metav1.LabelSelector{MatchLabels: pod.Labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: pod.Labels}, Spec: pod.Spec},
		},
	}
}

// A TcxProgram selecting a Deployment's pods follows its scale. At 0
// replicas from the start it is Ready, reason NoTargets. At 5 the report
// says 5 matched and attached, one link per pod (its eth0), the program
// 5/5, and the kernel holds exactly those 5 links of the program. Back
// at 0, no link of the program is left in the kernel nor pinned under
// its pin directory, and it is Ready, reason NoTargets, again.
func TestPodTargetsScale(t *testing.T) {
	target := buildPodTarget(t)
	k := podClient(t)
	ns := testNamespace(t, k, "pods-scale")
	mustCreate(t, k, scaledDeployment(ns, "scaled", target.Image))

	uid := applyProgram(t, "tcxprogram", "pods-scale", fmt.Sprintf(podTcx, "pods-scale", install.Examples["tc-counter"], "ingress", "scaled", ns))
	waitReady(t, "tcxprogram/pods-scale", bpfleetv1.ReasonNoTargets)

	scale(t, ns, "scaled", 5)
	entry := waitEntry(t, uid, "5 of 5 pods attached", func(e bpfleetv1.NodeProgramStatus) bool {
		return e.Pods != nil && e.Pods.Matched == 5 && e.Pods.Attached == 5 && len(e.Objects.Links) == 5
	})
	checkLinkTargets(t, entry, ns, "scaled")
	waitJSONPath(t, "tcxprogram/pods-scale", "{.status.pods.summary}", "5/5")
	if got, want := kernelLinks(t, entry.ProgramID), linkIDs(entry); !slices.Equal(got, want) {
		t.Errorf("the kernel has links %v of program %d, the report %v", got, entry.ProgramID, want)
	}

	scale(t, ns, "scaled", 0)
	gone := waitEntry(t, uid, "no pod matched", func(e bpfleetv1.NodeProgramStatus) bool {
		return e.Pods != nil && e.Pods.Matched == 0 && len(e.Objects.Links) == 0
	})
	if got := kernelLinks(t, entry.ProgramID); len(got) != 0 {
		t.Errorf("links %v of program %d are left in the kernel at 0 replicas", got, entry.ProgramID)
	}
	if pins := linkPins(t, uid); len(pins) != 0 {
		t.Errorf("links are still pinned at 0 replicas: %v", pins)
	}
	if gone.ProgramID != entry.ProgramID {
		t.Errorf("the program was reloaded (%d, was %d): pods coming and going must only add and remove links", gone.ProgramID, entry.ProgramID)
	}
	waitReady(t, "tcxprogram/pods-scale", bpfleetv1.ReasonNoTargets)
}

// scale scales Deployment ns/name to n replicas, as a user would, and
// waits until exactly n of its pods exist and run.
func scale(t *testing.T, ns, name string, n int) {
	t.Helper()
	if out, err := install.Kubectl("scale", "-n", ns, "deployment/"+name, "--replicas="+strconv.Itoa(n)); err != nil {
		t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	if out, err := install.Kubectl("rollout", "status", "-n", ns, "deployment/"+name, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, out)
	}
	if n == 0 {
		if out, err := install.Kubectl("wait", "-n", ns, "--for=delete", "pod", "-l", "app="+name, "--timeout=2m"); err != nil {
			t.Fatalf("kubectl wait --for=delete: %v\n%s", err, out)
		}
	}
}

// checkLinkTargets checks that entry has one link per running pod of app
// name, on its eth0.
func checkLinkTargets(t *testing.T, entry bpfleetv1.NodeProgramStatus, ns, name string) {
	t.Helper()
	var pods corev1.PodList
	if err := podClient(t).List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app": name}); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, p := range pods.Items {
		want = append(want, ns+"/"+p.Name+":eth0")
	}
	for _, l := range entry.Objects.Links {
		got = append(got, l.Target)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the report's link targets are %v, want %v", got, want)
	}
}

// linkPins lists the links pinned under program uid's pin directory on
// the node.
func linkPins(t *testing.T, uid types.UID) []string {
	t.Helper()
	dir := "/sys/fs/bpf/bpfleet/" + string(uid)
	out, err := install.outputInNamespace("find", dir, "-path", "*/links/*", "!", "-type", "d")
	if err != nil {
		t.Fatalf("list the pins: %v", err)
	}
	return strings.Fields(out)
}

// podXdp is an XdpProgram on the eth0 of the pods labelled app=<label>
// in namespace <ns>.
const podXdp = `apiVersion: bpfleet.io/v1alpha1
kind: XdpProgram
metadata:
  name: %s
spec:
  byteCode:
    image:
      ref: %s
  programName: xdp_count
  xdp:
    interfaces:
      names: [eth0]
    networkNamespaces:
      pods:
        matchLabels: {app: %s}
`

// An XdpProgram whose selector matches no pod at all is loaded and
// Ready, reason NoTargets: it runs nowhere yet, and nothing is wrong.
func TestPodTargetsNoneMatch(t *testing.T) {
	uid := applyProgram(t, "xdpprogram", "pods-none", fmt.Sprintf(podXdp, "pods-none", install.Examples["xdp-counter"], "no-such-app"))
	waitReady(t, "xdpprogram/pods-none", bpfleetv1.ReasonNoTargets)
	entry := waitEntry(t, uid, "no pod matched", func(e bpfleetv1.NodeProgramStatus) bool {
		return e.Pods != nil && e.Pods.Matched == 0
	})
	if len(entry.Objects.Links) != 0 || entry.ProgramID == 0 {
		t.Errorf("program %d with links %v, want loaded and no link", entry.ProgramID, entry.Objects.Links)
	}
	if got := kernelLinks(t, entry.ProgramID); len(got) != 0 {
		t.Errorf("the kernel has links %v of a program that matches no pod", got)
	}
}
