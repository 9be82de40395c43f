package node

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/images"
)

// mapReader is the consumer pod's image: test/node/mapreader.
var mapReader = images.Image{Name: "mapreader", Package: "./test/node/mapreader", User: "65532:65532",
	Description: "the userspace half of the flow meter, reading its maps in a pod"}

// flowApp is the flow meter on the pods' bridge, granting the consumer's
// service account its ring buffer to consume (a reader writes its
// consumer position: ReadWrite) and its flows to read.
const flowApp = `apiVersion: bpfleet.io/v1alpha1
kind: ClusterBpfApplication
metadata:
  name: flows-csi
spec:
  byteCode:
    image:
      ref: %s
  globalData:
    sampling: "%d"
  programs:
  - name: flow_ingress
    tcx:
      interfaces:
        names: [%s]
      direction: ingress
  - name: flow_egress
    tcx:
      interfaces:
        names: [%s]
      direction: egress
  mapAccess:
  - namespace: maps-team
    serviceAccount: reader
    maps: [new_flows]
    access: ReadWrite
  - namespace: maps-team
    serviceAccount: reader
    maps: [flows]
`

// The userspace half of the flow meter runs in a pod, as netobserv's
// agent does: csi.bpfleet.io mounts the maps the application grants its
// service account. Started before the application, it waits for it (the
// kubelet retries the mount). It consumes the ring buffer new_flows (the kernel's
// map of that ID) and counts flows while traffic runs; the map mounted
// read-only cannot be opened for writing nor written; the report lists
// the pod's mounts; an update of the application (a new revision) keeps
// the pod reading the same ring buffer, without a restart. A pod in a
// namespace no grant names gets FailedMount saying which grant is
// missing. An agent restarted meanwhile keeps them; deleting the pod
// unmounts its volumes on the node.
func TestMapsInPods(t *testing.T) {
	ctx := context.Background()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	refs, err := install.PushImages(ctx, mapReader)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"maps-team", "maps-other"} {
		mustCreate(t, k, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		mustCreate(t, k, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader"}})
		t.Cleanup(func() { _, _ = install.Kubectl("delete", "namespace", ns, "--timeout=2m") })
	}
	// The consumer comes first: it waits for the application.
	pod := consumerPod("maps-team", refs[0])
	mustCreate(t, k, pod)
	if msg := waitEvent(t, "maps-team", "consumer", "FailedMount"); !strings.Contains(msg, "application/flows-csi is not scheduled on node "+NodeName) {
		t.Errorf("the early consumer's FailedMount says %q, want that the application is not there yet", msg)
	}
	applyFlowApp(t, 1)
	t.Cleanup(func() { _, _ = install.Kubectl("delete", "clusterbpfapplication/flows-csi", "--timeout=2m") })
	app := &bpfleetv1.ClusterBpfApplication{}
	if err := k.Get(ctx, types.NamespacedName{Name: "flows-csi"}, app); err != nil {
		t.Fatal(err)
	}
	waitPodRunning(t, k, pod)
	logs := podLogs(t, pod, `records [1-9]`, func() { flowsTo(t, pod.Status.PodIP, 10) })
	for _, want := range []string{
		"open /flows/flows for writing: read-only file system",
		"write /flows/flows: update: operation not permitted",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the consumer's log does not say %q:\n%s", want, logs)
		}
	}
	entry := reportEntry(t, app.UID)
	ringID := entry.Objects.MapIDs["new_flows"]
	if !strings.Contains(logs, fmt.Sprintf("ringbuf /events/new_flows id %d\n", ringID)) {
		t.Errorf("the consumer reads a ring buffer that is not the application's (id %d):\n%s", ringID, logs)
	}
	if entry.MountCount != 2 || !mounted(entry, "maps-team/consumer", "new_flows", bpfleetv1.MapReadWrite) || !mounted(entry, "maps-team/consumer", "flows", bpfleetv1.MapRead) {
		t.Errorf("the report lists mounts %+v, want the consumer's two volumes", entry.Mounts)
	}

	intruder := consumerPod("maps-other", refs[0])
	intruder.Name = "intruder"
	mustCreate(t, k, intruder)
	if msg := waitEvent(t, "maps-other", "intruder", "FailedMount"); !strings.Contains(msg, "no mapAccess grant of application/flows-csi names serviceaccount maps-other/reader") {
		t.Errorf("the intruder's FailedMount says %q, want the missing grant", msg)
	}

	before := recordsIn(logs)
	applyFlowApp(t, 2)
	if updated := reportEntry(t, app.UID); updated.Objects.MapIDs["new_flows"] != ringID || sameProgramIDs(entry, updated) {
		t.Errorf("after the update: ring buffer %d (was %d), programs %v (were %v); want the same map and new programs",
			updated.Objects.MapIDs["new_flows"], ringID, programIDs(updated), programIDs(entry))
	}
	logs = podLogs(t, pod, fmt.Sprintf(`records (\d{%d,})`, len(strconv.Itoa(before))), func() { flowsTo(t, pod.Status.PodIP, 10) })
	if after := recordsIn(logs); after <= before {
		t.Errorf("the consumer read %d records before the update and %d after: it stopped reading", before, after)
	}
	if err := k.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil || pod.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("the consumer restarted (%v): %+v", err, pod.Status.ContainerStatuses)
	}

	// An agent restarted (an upgrade) finds the volumes it published:
	// the report still lists them, and the pod's deletion unpublishes
	// them through the new agent.
	if out, err := install.Kubectl("rollout", "restart", "-n", Namespace, "daemonset/"+Agent); err != nil {
		t.Fatalf("kubectl rollout restart: %v\n%s", err, out)
	}
	if out, err := install.Kubectl("rollout", "status", "-n", Namespace, "daemonset/"+Agent, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, out)
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return reportEntry(t, app.UID).MountCount == 2, nil
	}); err != nil {
		t.Errorf("after the agent's restart the report lists mounts %+v, want the consumer's two", reportEntry(t, app.UID).Mounts)
	}

	if out, err := install.Kubectl("delete", "pod", "-n", "maps-team", "consumer", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl delete pod: %v\n%s", err, out)
	}
	volumes := "/var/lib/kubelet/pods/" + string(pod.UID) + "/volumes/kubernetes.io~csi"
	if err := install.inNamespace("test", "!", "-e", volumes+"/events/mount"); err != nil {
		t.Errorf("the consumer's volume is still at %s/events/mount on the node", volumes)
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return reportEntry(t, app.UID).MountCount == 0, nil
	}); err != nil {
		t.Errorf("the report still lists mounts after the pod went: %+v", reportEntry(t, app.UID).Mounts)
	}
}

// applyFlowApp applies flowApp with sampling, and waits for it to be
// Ready at its new generation.
func applyFlowApp(t *testing.T, sampling int) {
	t.Helper()
	manifest := fmt.Sprintf(flowApp, install.Examples["flowmeter"], sampling, cniBridge, cniBridge)
	if out, err := install.kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	// Ready at the generation just applied (kubectl wait reads conditions
	// of the latest generation only once observedGeneration says so).
	if out, err := install.Kubectl("wait", "--for=jsonpath={.status.observedGeneration}="+strconv.Itoa(sampling), "clusterbpfapplication/flows-csi", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl wait generation: %v\n%s", err, out)
	}
	if out, err := install.Kubectl("wait", "--for=condition=Ready", "clusterbpfapplication/flows-csi", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, out)
	}
}

// consumerPod runs mapreader in ns as service account reader: the ring
// buffer mounted writable at /events, the flows read-only at /flows.
func consumerPod(ns, image string) *corev1.Pod {
	volume := func(name, maps string, readOnly bool) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
			Driver: "csi.bpfleet.io", ReadOnly: &readOnly,
			VolumeAttributes: map[string]string{"application": "flows-csi", "maps": maps},
		}}}
	}
	no := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "consumer"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "reader", AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{
				Name: "mapreader", Image: image, Args: []string{"-ringbuf", "/events/new_flows", "-read-only", "/flows/flows"},
				VolumeMounts: []corev1.VolumeMount{{Name: "events", MountPath: "/events"}, {Name: "flows", MountPath: "/flows", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{volume("events", "new_flows", false), volume("flows", "flows", true)},
		},
	}
}

func mustCreate(t *testing.T, k client.Client, obj client.Object) {
	t.Helper()
	if err := k.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// waitPodRunning waits for pod to run, and reads it back (its IP).
func waitPodRunning(t *testing.T, k client.Client, pod *corev1.Pod) {
	t.Helper()
	if out, err := install.Kubectl("wait", "-n", pod.Namespace, "--for=jsonpath={.status.phase}=Running", "pod/"+pod.Name, "--timeout=2m"); err != nil {
		events, _ := install.Kubectl("get", "events", "-n", pod.Namespace)
		t.Fatalf("pod %s/%s: %v\n%s\n%s", pod.Namespace, pod.Name, err, out, events)
	}
	if err := k.Get(context.Background(), client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
}

// podLogs sends traffic until pod's log matches pattern, and returns it.
func podLogs(t *testing.T, pod *corev1.Pod, pattern string, traffic func()) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var logs string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		traffic()
		logs, _ = install.Kubectl("logs", "-n", pod.Namespace, pod.Name)
		return re.MatchString(logs), nil
	})
	if err != nil {
		t.Fatalf("the consumer's log never matched %q:\n%s", pattern, logs)
	}
	return logs
}

// flowsTo makes n new flows to ip, each a TCP connection attempt from a
// new port (the pod listens on none: it answers with a reset).
func flowsTo(t *testing.T, ip string, n int) {
	t.Helper()
	for range n {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "9"), time.Second); err == nil {
			c.Close()
		}
	}
}

// recordsIn is the last count of records the consumer printed.
func recordsIn(logs string) int {
	m := regexp.MustCompile(`records (\d+)`).FindAllStringSubmatch(logs, -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// mounted reports whether entry lists pod mounting map with access.
func mounted(entry bpfleetv1.NodeProgramStatus, pod, mapName string, access bpfleetv1.MapAccessMode) bool {
	for _, m := range entry.Mounts {
		if m.Pod == pod && m.Access == access && len(m.Maps) == 1 && string(m.Maps[0]) == mapName {
			return true
		}
	}
	return false
}

// waitEvent waits for an event of reason about ns/name, and returns its
// message.
func waitEvent(t *testing.T, ns, name, reason string) string {
	t.Helper()
	var msg string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		msg, _ = install.Kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name+",reason="+reason,
			"-o", "jsonpath={.items[*].message}")
		return msg != "", nil
	})
	if err != nil {
		events, _ := install.Kubectl("get", "events", "-n", ns)
		t.Fatalf("no %s event for %s/%s:\n%s", reason, ns, name, events)
	}
	return msg
}

func programIDs(e bpfleetv1.NodeProgramStatus) []uint32 {
	var ids []uint32
	for _, p := range e.Programs {
		ids = append(ids, p.ProgramID)
	}
	return ids
}

func sameProgramIDs(a, b bpfleetv1.NodeProgramStatus) bool {
	return fmt.Sprint(programIDs(a)) == fmt.Sprint(programIDs(b))
}
