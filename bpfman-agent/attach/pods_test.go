package attach_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"golang.org/x/sys/unix"
)

// nodePods are the pods of a node, as the agent's pod source lists them.
func nodePods() []attach.Pod {
	web := map[string]string{"app": "web"}
	return []attach.Pod{
		{UID: "uid-a", Namespace: "team-a", Name: "web-1", Labels: web, NamespaceLabels: map[string]string{"team": "a"},
			Netns: "/proc/11/ns/net", NetnsIno: 7, Interfaces: []string{"eth0", "lo"}, Primary: "eth0",
			Cgroup:     "/sys/fs/cgroup/kubepods/poduid-a",
			Containers: []attach.Container{{Name: "app", PIDs: []int{12, 13}}, {Name: "sidecar", PIDs: []int{14}}}},
		{UID: "uid-b", Namespace: "team-b", Name: "web-1", Labels: web, NamespaceLabels: map[string]string{"team": "b"},
			HostNetwork: true, Cgroup: "/sys/fs/cgroup/kubepods/poduid-b",
			Containers: []attach.Container{{Name: "app", PIDs: []int{22}}}},
		{UID: "uid-c", Namespace: "team-a", Name: "db-1", Labels: map[string]string{"app": "db"}, NamespaceLabels: map[string]string{"team": "a"},
			Netns: "/proc/31/ns/net", Interfaces: []string{"eth0"}},
		{UID: "uid-d", Namespace: "team-a", Name: "web-2", Labels: web, NamespaceLabels: map[string]string{"team": "a"},
			Err: errors.New("pod uid-d: no ready sandbox")},
	}
}

func podFacts() *attach.Facts {
	f := attach.LazyFacts()
	f.SetPods(func(bool) ([]attach.Pod, error) { return nodePods(), nil })
	return f
}

func web() bpfleetv1.LabelSelector {
	return bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func planOf(t *testing.T, hook string, settings any, facts *attach.Facts) attach.Plan {
	t.Helper()
	h, err := attach.Lookup(hook)
	must(t, err)
	p, err := h.Plan(bpfleetv1.NewAttachPoint(hook, settings), facts)
	must(t, err)
	if !p.PodScoped {
		t.Fatalf("%s plan %+v: not pod scoped", hook, p)
	}
	return p
}

// TestPodNetnsPlan plans an XDP program on eth0 of the pods labelled
// app=web: one target in the one pod with a network namespace of its
// own; the hostNetwork pod and the pod the runtime cannot find fail.
func TestPodNetnsPlan(t *testing.T) {
	p := planOf(t, bpfleetv1.HookXDP, bpfleetv1.XDPAttach{
		Interfaces:        bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}},
		NetworkNamespaces: &bpfleetv1.PodSelector{Pods: web()},
	}, podFacts())
	if got := slices.Sorted(maps.Keys(p.Targets)); !slices.Equal(got, []string{"uid-a_eth0"}) {
		t.Fatalf("targets %v, want [uid-a_eth0]", got)
	}
	x := p.Targets["uid-a_eth0"].(attach.XDP)
	if x.Interface != "eth0" || x.Netns != (attach.Netns{Path: "/proc/11/ns/net", Ino: 7}) {
		t.Errorf("target %+v", x)
	}
	if pt := p.Pods["uid-a_eth0"]; pt != (attach.PodTarget{Pod: "team-a/web-1", Target: "eth0"}) {
		t.Errorf("pod target %+v", pt)
	}
	if want := []string{"team-a/web-1", "team-b/web-1", "team-a/web-2"}; !slices.Equal(p.Matched, want) {
		t.Errorf("matched %v, want %v", p.Matched, want)
	}
	if !strings.Contains(p.PodFailures["team-b/web-1"], "hostNetwork") || !strings.Contains(p.PodFailures["team-a/web-2"], "no ready sandbox") {
		t.Errorf("failures %v", p.PodFailures)
	}

	// primary: the interface of the pod's default route.
	p = planOf(t, bpfleetv1.HookTCX, bpfleetv1.TCXAttach{
		Interfaces: bpfleetv1.InterfaceSelector{Primary: true}, Direction: bpfleetv1.TCXIngress,
		NetworkNamespaces: &bpfleetv1.PodSelector{Pods: bpfleetv1.LabelSelector{}},
	}, podFacts())
	if got := slices.Sorted(maps.Keys(p.Targets)); !slices.Equal(got, []string{"uid-a_eth0"}) {
		t.Errorf("primary: targets %v (uid-c has no default route)", got)
	}
	if !strings.Contains(p.PodFailures["team-a/db-1"], "primary") && !strings.Contains(p.PodFailures["team-a/db-1"], "default route") {
		t.Errorf("primary: uid-c failure %q", p.PodFailures["team-a/db-1"])
	}
}

// TestPodNamespaces checks the namespace selector, and that a namespaced
// program's facts reach its own namespace only, whatever its selectors
// say.
func TestPodNamespaces(t *testing.T) {
	sel := &bpfleetv1.PodSelector{Pods: web(), Namespaces: &bpfleetv1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}}
	settings := bpfleetv1.CgroupAttach{Type: "egress", Cgroups: sel}
	p := planOf(t, bpfleetv1.HookCgroup, settings, podFacts())
	if !slices.Equal(p.Matched, []string{"team-b/web-1"}) {
		t.Errorf("matched %v, want [team-b/web-1]", p.Matched)
	}
	c := p.Targets["uid-b"].(attach.Cgroup)
	if c.Path != "/sys/fs/cgroup/kubepods/poduid-b" || c.Type != "egress" {
		t.Errorf("cgroup target %+v", c)
	}

	facts := podFacts()
	restore := facts.InNamespace("team-a")
	p = planOf(t, bpfleetv1.HookCgroup, settings, facts)
	if len(p.Matched) != 0 || len(p.Targets) != 0 {
		t.Errorf("in namespace team-a: matched %v, targets %v; want none", p.Matched, p.Targets)
	}
	restore()
	if p = planOf(t, bpfleetv1.HookCgroup, settings, facts); len(p.Matched) != 1 {
		t.Errorf("restored: matched %v", p.Matched)
	}
}

// TestPodContainersPlan plans a uprobe once per process of container app
// of each web pod, each resolved in the process's root.
func TestPodContainersPlan(t *testing.T) {
	p := planOf(t, bpfleetv1.HookUprobe, bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/usr/bin/app", Function: "main"}, Containers: &bpfleetv1.ContainerSelector{
		PodSelector: bpfleetv1.PodSelector{Pods: web()}, ContainerNames: []bpfleetv1.ContainerName{"app"},
	}}, podFacts())
	want := []string{"uid-a_app_12", "uid-a_app_13", "uid-b_app_22"}
	if got := slices.Sorted(maps.Keys(p.Targets)); !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	u := p.Targets["uid-a_app_13"].(attach.Uprobe)
	if u.PID != 13 || u.Root != "/proc/13/root" || u.Target != "/usr/bin/app" {
		t.Errorf("uprobe %+v", u)
	}
	if pt := p.Pods["uid-b_app_22"]; pt.Pod != "team-b/web-1" || pt.Target != "app:22" {
		t.Errorf("pod target %+v", pt)
	}

	p = planOf(t, bpfleetv1.HookUprobe, bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "libc", Function: "malloc"}, Containers: &bpfleetv1.ContainerSelector{
		PodSelector: bpfleetv1.PodSelector{Pods: web()}, ContainerNames: []bpfleetv1.ContainerName{"sidecar", "proxy"},
	}}, podFacts())
	if got := slices.Sorted(maps.Keys(p.Targets)); !slices.Equal(got, []string{"uid-a_sidecar_14"}) {
		t.Errorf("sidecar targets %v", got)
	}
	if !strings.Contains(p.PodFailures["team-a/web-1"], "proxy") || !strings.Contains(p.PodFailures["team-b/web-1"], "sidecar, proxy") {
		t.Errorf("failures %v", p.PodFailures)
	}
}

// TestPodTargetsWait checks that a pass whose pods cannot be listed
// waits, and that pod selectors do not count in the links' key (pods
// come and go within a revision).
func TestPodTargetsWait(t *testing.T) {
	h, err := attach.Lookup(bpfleetv1.HookTCX)
	must(t, err)
	settings := bpfleetv1.TCXAttach{Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}},
		Direction: bpfleetv1.TCXIngress, NetworkNamespaces: &bpfleetv1.PodSelector{Pods: web()}}
	ap := bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, settings)
	var wait *failure.Wait
	if _, err := h.Plan(ap, attach.LazyFacts()); !errors.As(err, &wait) {
		t.Errorf("plan without a pod source: %v, want a *failure.Wait", err)
	}
	down := attach.LazyFacts()
	down.SetPods(func(bool) ([]attach.Pod, error) { return nil, &failure.Wait{What: "runtime down"} })
	if _, err := h.Plan(ap, down); !errors.As(err, &wait) {
		t.Errorf("plan with the runtime down: %v, want a *failure.Wait", err)
	}
	bad := settings
	bad.NetworkNamespaces = &bpfleetv1.PodSelector{Pods: bpfleetv1.LabelSelector{MatchExpressions: []bpfleetv1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}}
	var invalid *failure.Invalid
	if _, err := h.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, bad), podFacts()); !errors.As(err, &invalid) {
		t.Errorf("plan with a bad selector: %v, want a *failure.Invalid", err)
	}

	host := settings
	host.NetworkNamespaces = nil
	k1, err := h.LinkKey(ap)
	must(t, err)
	k2, err := h.LinkKey(bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, host))
	must(t, err)
	if k1 != k2 {
		t.Errorf("link key %s with pods, %s without: pod selectors must not count", k1, k2)
	}
}

// TestTCXInPodNetns attaches a TCX counter to the interface inside a
// network namespace (a pod's, as the pod source gives it) and counts the
// packets that namespace sends; the node's own namespace and a path that
// no longer names the pod's are refused.
func TestTCXInPodNetns(t *testing.T) {
	testkernel.Require(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	if !tcxHere(t, host) {
		return
	}
	peer := "bpfp" + strings.TrimPrefix(host, "bpft")
	path := filepath.Join("/run/netns", ns)
	var st unix.Stat_t
	must(t, unix.Stat(path, &st))
	pod := attach.Pod{UID: "uid-p", Namespace: "team-a", Name: "web-1", Labels: map[string]string{"app": "web"},
		Netns: path, NetnsIno: st.Ino, Interfaces: []string{peer, "lo"}}
	facts := attach.LazyFacts()
	facts.SetPods(func(bool) ([]attach.Pod, error) { return []attach.Pod{pod}, nil })
	p := planOf(t, bpfleetv1.HookTCX, bpfleetv1.TCXAttach{
		Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(peer)}},
		Direction:  bpfleetv1.TCXEgress, NetworkNamespaces: &bpfleetv1.PodSelector{Pods: web()},
	}, facts)
	spec := p.Targets["uid-p_"+peer]
	objs := load(t, bpf.TCCounter, "tc_count", nil)
	a, err := spec.Attach(objs.Program)
	must(t, err)
	defer a.Link.Close()
	if a.Detail != "egress position 1 of 1" {
		t.Errorf("detail %q", a.Detail)
	}
	if d, err := spec.(attach.Describer).Describe(a.Link); err != nil || d != a.Detail {
		t.Errorf("describe: %q, %v", d, err)
	}
	if _, err := attach.TCXOrder(peer, attach.Egress); err == nil {
		t.Errorf("interface %s is visible in the node's namespace", peer)
	}
	if got := testkernel.Ping(t, ns, hostIP, 3); got != 3 {
		t.Fatalf("%d of 3 pings answered", got)
	}
	if n := lookup(t, objs.Maps["packets"], 0); n < 3 {
		t.Errorf("counted %d packets leaving the pod's namespace, want at least 3", n)
	}

	for name, n := range map[string]attach.Netns{
		"the node's own": {Path: "/proc/self/ns/net"},
		"reused":         {Path: path, Ino: st.Ino + 1},
	} {
		_, err := attach.TCX{Interface: peer, Direction: attach.Ingress, Netns: n}.Attach(program(t, ebpf.SchedCLS))
		if err == nil {
			t.Errorf("%s namespace: attached", name)
		}
		t.Logf("%s namespace: %v", name, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
