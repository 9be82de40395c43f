package attach_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkPodPlan plans a TCX program on eth0 of the pods labelled
// app=web among 110 running pods (a full node), half of them matched,
// against the plan of the same program on a node interface.
func BenchmarkPodPlan(b *testing.B) {
	pods := make([]attach.Pod, 110)
	for i := range pods {
		app := "web"
		if i%2 == 1 {
			app = "db"
		}
		pods[i] = attach.Pod{UID: fmt.Sprintf("uid-%03d", i), Namespace: "team-a", Name: fmt.Sprintf("p-%d", i),
			Labels: map[string]string{"app": app}, Netns: fmt.Sprintf("/proc/%d/ns/net", 1000+i), NetnsIno: uint64(i + 1),
			Interfaces: []string{"eth0", "lo"}}
	}
	h, err := attach.Lookup(bpfleetv1.HookTCX)
	must(b, err)
	names := bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}
	inPods := bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress,
		NetworkNamespaces: &bpfleetv1.PodSelector{Pods: bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}})
	onNode := bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress})
	var podTime, nodeTime time.Duration
	for b.Loop() {
		facts := attach.ReadFacts()
		facts.SetPods(func(bool) ([]attach.Pod, error) { return pods, nil })
		start := time.Now()
		p, err := h.Plan(inPods, facts)
		podTime += time.Since(start)
		if err != nil || len(p.Targets) != 55 {
			b.Fatalf("plan: %d targets, %v", len(p.Targets), err)
		}
		start = time.Now()
		_, _ = h.Plan(onNode, facts)
		nodeTime += time.Since(start)
	}
	b.ReportMetric(float64(podTime.Microseconds())/float64(b.N), "pods-plan-µs/op")
	b.ReportMetric(float64(nodeTime.Microseconds())/float64(b.N), "baseline-plan-µs/op")
}

// BenchmarkAttachInPodNetns attaches (and detaches) a TCX link on the
// interface inside a pod's network namespace, entered by path and checked
// by inode, against the same attach on an interface of the agent's own
// namespace.
func BenchmarkAttachInPodNetns(b *testing.B) {
	testkernel.Require(b)
	host, ns, _, _ := testkernel.VethPair(b)
	peer := "bpfp" + strings.TrimPrefix(host, "bpft")
	path := filepath.Join("/run/netns", ns)
	var st unix.Stat_t
	must(b, unix.Stat(path, &st))
	prog := loadTrivialB(b)
	inPod := attach.TCX{Interface: peer, Direction: attach.Ingress, Netns: attach.Netns{Path: path, Ino: st.Ino}}
	onNode := attach.TCX{Interface: host, Direction: attach.Ingress}
	var podTime, nodeTime time.Duration
	for b.Loop() {
		podTime += timeAttach(b, inPod, prog)
		nodeTime += timeAttach(b, onNode, prog)
	}
	b.ReportMetric(float64(podTime.Microseconds())/float64(b.N), "pod-attach-µs/op")
	b.ReportMetric(float64(nodeTime.Microseconds())/float64(b.N), "baseline-attach-µs/op")
}

func timeAttach(b *testing.B, s attach.Spec, prog *ebpf.Program) time.Duration {
	start := time.Now()
	a, err := s.Attach(prog)
	if err != nil {
		b.Fatal(err)
	}
	a.Link.Close()
	return time.Since(start)
}

func loadTrivialB(b *testing.B) *ebpf.Program {
	b.Helper()
	prog, err := ebpf.NewProgram(trivial(ebpf.SchedCLS))
	must(b, err)
	b.Cleanup(func() { prog.Close() })
	return prog
}
