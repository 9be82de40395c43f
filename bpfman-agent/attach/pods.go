package attach

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
)

// Pod is a running pod of the node, as hooks plan targets in it. The node
// part (Netns, Cgroup, Containers) comes from the node's container
// runtime; Err says why it could not (the pod's targets fail with it).
type Pod struct {
	UID, Namespace, Name string
	Labels               map[string]string
	NamespaceLabels      map[string]string
	// HostNetwork pods share the node's network namespace: they have no
	// interfaces of their own to attach to.
	HostNetwork bool
	// Netns is the pod's network namespace, e.g. /proc/<pid>/ns/net of its
	// sandbox, and NetnsIno its inode: an attach there checks that the
	// path still names it (a PID reused by another process would not).
	Netns    string
	NetnsIno uint64
	// Interfaces of the pod's network namespace, and the one of its
	// default route.
	Interfaces []string
	Primary    string
	// Cgroup is the pod's cgroup v2 directory as the agent reaches it, or
	// "" (no cgroup v2 hierarchy, or not found).
	Cgroup     string
	Containers []Container
	Err        error
}

// Container is a running container of a pod: its name in the pod spec,
// and the PIDs of its processes (listed only for hooks that ask, see
// PodSource).
type Container struct {
	Name string
	PIDs []int
}

// Ref is the pod as status names it, "namespace/name".
func (p *Pod) Ref() string { return p.Namespace + "/" + p.Name }

// PodSource lists the running pods of the node; with processes, the PIDs
// of their containers' processes too (which reads every process of the
// node). A *failure.Wait (or any error) waits: no pod target is added or
// removed until it answers.
type PodSource func(processes bool) ([]Pod, error)

// PodTarget says, of a target key in a Plan, which pod it is in and what
// in the pod it is ("eth0", "app:42" for process 42 of container app,
// "cgroup").
type PodTarget struct {
	Pod, Target string
}

// SetPods gives f the node's pods, read when a hook first plans from them.
func (f *Facts) SetPods(src PodSource) { f.podSource = src }

// InNamespace restricts the pods hooks plan from to namespace ns (a
// namespaced program's own), until the returned func is called; "" does
// not restrict.
func (f *Facts) InNamespace(ns string) (restore func()) {
	prev := f.namespace
	f.namespace = ns
	return func() { f.namespace = prev }
}

// pods lists the node's running pods, with their containers' processes
// if asked (reading them once per Facts, and again the first time
// processes are asked for).
func (f *Facts) pods(processes bool) ([]Pod, error) {
	switch {
	case f.podSource == nil:
		return nil, &failure.Wait{What: "the agent has no pod source (no container runtime endpoint)"}
	case !f.podsRead || processes && !f.procsRead:
		f.podsRead, f.procsRead = true, processes
		f.podList, f.podsErr = f.podSource(processes)
	}
	return f.podList, f.podsErr
}

// selectPods returns the running pods sel selects, in the namespace f is
// restricted to if any, with their containers' processes if asked.
func selectPods(sel *bpfleetv1.PodSelector, f *Facts, processes bool) ([]*Pod, error) {
	podSel, err := selector("pods", sel.Pods.Meta())
	if err != nil {
		return nil, err
	}
	nsSel := labels.Everything()
	if sel.Namespaces != nil {
		if nsSel, err = selector("namespaces", sel.Namespaces.Meta()); err != nil {
			return nil, err
		}
	}
	all, err := f.pods(processes)
	if err != nil {
		return nil, err
	}
	var out []*Pod
	for i := range all {
		p := &all[i]
		if (f.namespace == "" || p.Namespace == f.namespace) &&
			podSel.Matches(labels.Set(p.Labels)) && nsSel.Matches(labels.Set(p.NamespaceLabels)) {
			out = append(out, p)
		}
	}
	return out, nil
}

func selector(what string, s *metav1.LabelSelector) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, &failure.Invalid{Err: fmt.Errorf("%s selector: %w", what, err)}
	}
	return sel, nil
}

// podKey is the target key of target in pod p: the pod's UID, then
// target's parts ([A-Za-z0-9_.-] each), joined by '_'.
func podKey(p *Pod, parts ...string) string {
	k := p.UID
	for _, s := range parts {
		k += "_" + s
	}
	return k
}

// addPodTarget adds s at key to plan p, in pod pod.
func (p *Plan) addPodTarget(key string, pod *Pod, what string, s Spec) {
	if p.Targets == nil {
		p.Targets = map[string]Spec{}
	}
	if p.Pods == nil {
		p.Pods = map[string]PodTarget{}
	}
	p.Targets[key] = s
	p.Pods[key] = PodTarget{Pod: pod.Ref(), Target: what}
}

// failPod records that pod matched but has no target to attach, and why.
func (p *Plan) failPod(pod *Pod, err error) {
	if p.PodFailures == nil {
		p.PodFailures = map[string]string{}
	}
	p.PodFailures[pod.Ref()] = err.Error()
}

// matchPod records that pod matched.
func (p *Plan) matchPod(pod *Pod) {
	if !slices.Contains(p.Matched, pod.Ref()) {
		p.Matched = append(p.Matched, pod.Ref())
	}
}

// perPodInterface plans one Spec per selected interface in the network
// namespace of each selected pod.
func perPodInterface(sel bpfleetv1.InterfaceSelector, pods *bpfleetv1.PodSelector, facts *Facts, mk func(iface string, ns Netns) Spec) (Plan, error) {
	matched, err := selectPods(pods, facts, false)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{PodScoped: true}
	for _, pod := range matched {
		p.matchPod(pod)
		if err := podNetnsErr(pod); err != nil {
			p.failPod(pod, err)
			continue
		}
		in := &Facts{Interfaces: pod.Interfaces, Primary: pod.Primary}
		ifaces, missing, err := selectInterfaces(sel, in)
		if err != nil {
			var invalid *failure.Invalid
			if errors.As(err, &invalid) {
				return Plan{}, err
			}
			p.failPod(pod, err)
			continue
		}
		if len(ifaces) == 0 {
			p.failPod(pod, fmt.Errorf("no selected interface in its network namespace (it has %v)", pod.Interfaces))
			continue
		}
		for _, m := range missing {
			p.Missing = append(p.Missing, pod.Ref()+" "+m)
		}
		for _, iface := range ifaces {
			p.addPodTarget(podKey(pod, iface), pod, iface, mk(iface, Netns{Path: pod.Netns, Ino: pod.NetnsIno}))
		}
	}
	return p, nil
}

// podNetnsErr says why pod has no network namespace to attach in, or nil.
func podNetnsErr(pod *Pod) error {
	switch {
	case pod.Err != nil:
		return pod.Err
	case pod.HostNetwork:
		return errors.New("a hostNetwork pod has no network namespace of its own")
	case pod.Netns == "":
		return errors.New("its network namespace is not known")
	}
	return nil
}

// containerKeyPart names a process of container c in a target key.
func containerKeyPart(c Container, pid int) []string {
	return []string{c.Name, strconv.Itoa(pid)}
}
