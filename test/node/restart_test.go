package node

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// An XDP counter counts a ping flood while the agent's pods are replaced,
// as users and upgrades replace them: `kubectl rollout restart` of the
// DaemonSet, then `kubectl delete pod`. Each new pod adopts the running
// program (its program and link IDs stay) and the counter misses no
// packet the interface received.
func TestAgentPodRestartsKeepXDPRunning(t *testing.T) {
	testkernel.Require(t)
	ctx := context.Background()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	host, ns, hostIP, _ := testkernel.VethPair(t)
	x := &bpfleetv1.XdpProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "restart-counter"},
		Spec: bpfleetv1.XdpProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: install.Examples["xdp-counter"]}},
				},
				ProgramName: "xdp_count",
			},
			XDP: bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(host)}}, Mode: bpfleetv1.XDPGeneric},
		},
	}
	if err := k.Create(ctx, x); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.Delete(ctx, x)
		_, _ = install.Kubectl("wait", "--for=delete", "xdpprogram/"+x.Name, "--timeout=1m")
	})
	if out, err := install.Kubectl("wait", "--for=condition=Ready", "xdpprogram/"+x.Name, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, out)
	}
	before := reportEntry(t, x.UID)
	counter := before.Objects.MapIDs["packets"]
	start := testkernel.MapValue(t, counter, uint32(0))
	rx0 := testkernel.RxPackets(t, host)
	flood := exec.Command("ip", "netns", "exec", ns, "ping", "-q", "-i", "0.002", hostIP)
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flood.Process.Kill(); _ = flood.Wait() })

	oldPod := agentPod(t)
	if out, err := install.Kubectl("rollout", "restart", "-n", Namespace, "daemonset/"+Agent); err != nil {
		t.Fatalf("kubectl rollout restart: %v\n%s", err, out)
	}
	if out, err := install.Kubectl("rollout", "status", "-n", Namespace, "daemonset/"+Agent, "--timeout=2m"); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, out)
	}
	restarted := waitNewAgent(t, oldPod)
	sameObjects(t, "after kubectl rollout restart", before, reportEntry(t, x.UID))

	if out, err := install.Kubectl("delete", "pod", "-n", Namespace, restarted); err != nil {
		t.Fatalf("kubectl delete pod: %v\n%s", err, out)
	}
	waitNewAgent(t, restarted)
	sameObjects(t, "after kubectl delete pod", before, reportEntry(t, x.UID))

	_ = flood.Process.Kill()
	time.Sleep(200 * time.Millisecond)
	received := testkernel.RxPackets(t, host) - rx0
	counted := testkernel.MapValue(t, counter, uint32(0)) - start
	t.Logf("two agent pod replacements: %d packets received, %d counted", received, counted)
	if received < 300 {
		t.Fatalf("only %d packets crossed the veth; the test needs traffic", received)
	}
	if counted != received {
		t.Errorf("the counter counted %d packets, the interface received %d: the program stopped or was replaced", counted, received)
	}
}

// sameObjects fails t unless the node runs the program with the kernel
// objects it had before.
func sameObjects(t *testing.T, when string, before, now bpfleetv1.NodeProgramStatus) {
	t.Helper()
	if now.State != bpfleetv1.StateReady || now.ProgramID != before.ProgramID ||
		!slices.Equal(now.Objects.Links, before.Objects.Links) || now.Objects.MapIDs["packets"] != before.Objects.MapIDs["packets"] {
		t.Errorf("%s: the node reports %+v, before %+v: want the same program, links and map", when, now, before)
	}
	if exec.Command("bpftool", "prog", "show", "id", strconv.Itoa(int(before.ProgramID))).Run() != nil {
		t.Errorf("%s: program %d is gone", when, before.ProgramID)
	}
	for _, l := range before.Objects.Links {
		if exec.Command("bpftool", "link", "show", "id", strconv.Itoa(int(l.LinkID))).Run() != nil {
			t.Errorf("%s: link %d is gone", when, l.LinkID)
		}
	}
}

// agentPod is the name of the agent's running pod.
func agentPod(t testing.TB) string {
	t.Helper()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	if err := k.List(context.Background(), &pods, client.InNamespace(Namespace), client.MatchingLabels{"app.kubernetes.io/component": "agent"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			return p.Name
		}
	}
	t.Fatalf("no running agent pod: %+v", pods.Items)
	return ""
}

// waitNewAgent waits until an agent pod other than old is Ready (it
// compared its kernel with its node's spec and reported), and returns its
// name.
func waitNewAgent(t *testing.T, old string) string {
	t.Helper()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	var name string
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := k.List(ctx, &pods, client.InNamespace(Namespace), client.MatchingLabels{"app.kubernetes.io/component": "agent"}); err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if p.Name != old && p.DeletionTimestamp == nil && podReady(p) {
				name = p.Name
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		out, _ := install.Kubectl("get", "pods", "-n", Namespace, "-o", "wide")
		t.Fatalf("no new agent pod Ready after %s: %v\n%s", old, err, out)
	}
	return name
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
