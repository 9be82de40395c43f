package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

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
	counted := startPod(t, k, podTargetPod(ns, "counted", target.Image, map[string]string{"app": "counted"}))
	other := startPod(t, k, podTargetPod(ns, "other", target.Image, map[string]string{"app": "other"}))

	uid := applyProgram(t, "tcxprogram", "pods-tcx", fmt.Sprintf(podTcx, "pods-tcx", install.Examples["tc-counter"], "egress", "counted", ns))
	entry := waitEntry(t, uid, "1 of 1 pods attached", func(e bpfleetv1.NodeProgramStatus) bool {
		return e.Pods != nil && e.Pods.Matched == 1 && e.Pods.Attached == 1 && len(e.Objects.Links) == 1
	})
	if got, want := entry.Objects.Links[0].Target, ns+"/counted:eth0"; got != want {
		t.Errorf("the report's link target is %q, want %q", got, want)
	}
	waitJSONPath(t, "tcxprogram/pods-tcx", "{.status.pods.summary}", "1/1")
	if ids := kernelLinks(t, entry.ProgramID); !slices.Equal(ids, []uint32{entry.Objects.Links[0].LinkID}) {
		t.Errorf("the kernel has links %v of program %d, want the report's %d", ids, entry.ProgramID, entry.Objects.Links[0].LinkID)
	}

	packets := entry.Objects.MapIDs["packets"]
	waitServing(t, counted.Status.PodIP)
	waitServing(t, other.Status.PodIP)
	before := quietCounter(t, packets)
	poke(t, other.Status.PodIP, 20)
	time.Sleep(300 * time.Millisecond)
	if n := testkernel.MapValue(t, packets, uint32(0)); n != before {
		t.Errorf("20 datagrams from the other pod raised the counted pod's counter from %d to %d", before, n)
	}
	poke(t, counted.Status.PodIP, 20)
	if n := testkernel.MapValue(t, packets, uint32(0)); n < before+20 {
		t.Errorf("20 datagrams from the counted pod raised its counter from %d to %d, want at least %d", before, n, before+20)
	}
	checkAgentLogs(t, "container runtime", "containerd", "grpc")
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
	var err error
	if werr := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		entry, err = nodereport.Entry(ctx, k, NodeName, uid)
		return err == nil && ok(entry), nil
	}); werr != nil {
		raw, _ := json.MarshalIndent(entry, "", "  ")
		t.Fatalf("the report never said %s (%v):\n%s", what, err, raw)
	}
	return entry
}

// waitJSONPath waits until kubectl get resource shows want at path.
func waitJSONPath(t *testing.T, resource, path, want string) {
	t.Helper()
	var got string
	if err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		got, _ = install.Kubectl("get", resource, "-o", "jsonpath="+path)
		return got == want, nil
	}); err != nil {
		st, _ := install.Kubectl("get", resource, "-o", "jsonpath={.status}")
		t.Fatalf("%s %s is %q, want %q; status: %s", resource, path, got, want, st)
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
