package pods

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
)

// Source lists the running pods of the node, each with where it runs
// (attach.Pod).
type Source struct {
	// reader lists the node's pods and the namespaces' metadata: the
	// agent's cache, which holds its own node's pods only.
	reader  client.Reader
	runtime Runtime

	mu sync.Mutex
	// sandboxes holds, by pod, what is fixed for its sandbox's life: its
	// process, network namespace and cgroup.
	sandboxes  map[types.UID]sandbox
	containers map[string]proc
}

// sandbox is a pod's sandbox, as first found.
type sandbox struct {
	proc
	netnsIno uint64
	hostNet  bool
	cgroup   string
}

// NewSource lists pods from reader and finds their processes through rt.
func NewSource(reader client.Reader, rt Runtime) *Source {
	return &Source{reader: reader, runtime: rt, sandboxes: map[types.UID]sandbox{}, containers: map[string]proc{}}
}

// Pods lists the node's running pods, with the processes of their
// containers if asked (see attach.PodSource). An error of the API cache
// or of the runtime as a whole is a *failure.Wait: no pod target is added
// or removed until it answers.
func (s *Source) Pods(ctx context.Context, processes bool) ([]attach.Pod, error) {
	var list corev1.PodList
	if err := s.reader.List(ctx, &list); err != nil {
		return nil, &failure.Wait{What: "listing the node's pods: " + err.Error()}
	}
	nsLabels, err := s.namespaceLabels(ctx)
	if err != nil {
		return nil, &failure.Wait{What: "listing namespaces: " + err.Error()}
	}
	n, err := newNode()
	if err != nil {
		return nil, &failure.Wait{What: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seenPods, seenContainers := map[types.UID]bool{}, map[string]bool{}
	var out []attach.Pod
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.Status.Phase != corev1.PodRunning {
			continue
		}
		seenPods[pod.UID] = true
		ap, err := s.locate(ctx, n, pod, seenContainers, processes)
		if err != nil {
			return nil, &failure.Wait{What: err.Error()}
		}
		ap.NamespaceLabels = nsLabels[pod.Namespace]
		out = append(out, ap)
	}
	forget(s.sandboxes, seenPods)
	forget(s.containers, seenContainers)
	return out, nil
}

// locate finds where pod runs. A sandbox or container the runtime does
// not run is the pod's Err (or a container left out); any other error of
// the runtime is returned.
func (s *Source) locate(ctx context.Context, n *node, pod *corev1.Pod, seenContainers map[string]bool, processes bool) (attach.Pod, error) {
	ap := attach.Pod{UID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name, Labels: pod.Labels,
		HostNetwork: pod.Spec.HostNetwork}
	sb, err := s.sandbox(ctx, n, pod.UID)
	if errors.Is(err, ErrNotFound) {
		ap.Err = err
		return ap, nil
	}
	if err != nil {
		return ap, err
	}
	if err := sb.network(&ap); err != nil {
		ap.Err = err
		return ap, nil
	}
	ap.Cgroup = sb.cgroup
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil || cs.ContainerID == "" {
			continue
		}
		seenContainers[cs.ContainerID] = true
		c, err := s.container(ctx, cs.ContainerID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return ap, err
		}
		ctr := attach.Container{Name: cs.Name}
		if processes {
			ctr.PIDs = n.processes(c.pid)
		}
		ap.Containers = append(ap.Containers, ctr)
	}
	return ap, nil
}

// sandbox is pod uid's sandbox: as first found while its process lives,
// else found anew through the runtime and /proc.
func (s *Source) sandbox(ctx context.Context, n *node, uid types.UID) (sandbox, error) {
	if sb, ok := s.sandboxes[uid]; ok && sb.alive() {
		return sb, nil
	}
	delete(s.sandboxes, uid)
	p, err := find(func() (int, error) { return s.runtime.SandboxPID(ctx, string(uid)) })
	if err != nil {
		return sandbox{}, err
	}
	sb, err := newSandbox(n, p)
	if err != nil {
		return sandbox{}, fmt.Errorf("sandbox of pod %s: %w", uid, err)
	}
	s.sandboxes[uid] = sb
	return sb, nil
}

// newSandbox reads what is fixed for sandbox process p's life: its
// network namespace (the node's own: the pod is of the host's network)
// and its pod's cgroup.
func newSandbox(n *node, p proc) (sandbox, error) {
	ino, err := netnsIno(p.pid)
	if err != nil {
		return sandbox{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return sandbox{proc: p, netnsIno: ino, hostNet: ino == n.ownNetns, cgroup: n.podCgroup(p.pid)}, nil
}

// network fills in the network namespace of the pod of sb, with its
// interfaces now; a pod in the node's own namespace is of the host's
// network.
func (sb sandbox) network(ap *attach.Pod) error {
	if sb.hostNet {
		ap.HostNetwork = true
		return nil
	}
	ap.Netns, ap.NetnsIno = netnsPath(sb.pid), sb.netnsIno
	var err error
	ap.Interfaces, ap.Primary, err = interfaces(sb.pid)
	return err
}

// container is the first process of container id: as first found while
// it lives, else found anew.
func (s *Source) container(ctx context.Context, id string) (proc, error) {
	if p, ok := s.containers[id]; ok && p.alive() {
		return p, nil
	}
	delete(s.containers, id)
	p, err := find(func() (int, error) { return s.runtime.ContainerPID(ctx, id) })
	if err == nil {
		s.containers[id] = p
	}
	return p, err
}

// find is the process the runtime names.
func find(pidOf func() (int, error)) (proc, error) {
	pid, err := pidOf()
	if err != nil {
		return proc{}, err
	}
	p, err := procOf(pid)
	if err != nil {
		return proc{}, fmt.Errorf("process %d: %w", pid, ErrNotFound)
	}
	return p, nil
}

// forget drops the entries of m not seen.
func forget[K comparable, V any](m map[K]V, seen map[K]bool) {
	for k := range m {
		if !seen[k] {
			delete(m, k)
		}
	}
}

// namespaceLabels maps each namespace to its labels.
func (s *Source) namespaceLabels(ctx context.Context) (map[string]map[string]string, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := s.reader.List(ctx, list); err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(list.Items))
	for _, ns := range list.Items {
		out[ns.Name] = ns.Labels
	}
	return out, nil
}

// node is what one listing reads of the node once: its own network
// namespace, its cgroup v2 root (read when a new sandbox or a container
// is first located: a listing of known sandboxes reads no mounts), and
// its processes by cgroup (read when a container is first located).
type node struct {
	ownNetns uint64
	cgroup2  func() string
	procs    map[string][]int
	procsErr error
	read     bool
}

func newNode() (*node, error) {
	own, err := ownNetnsIno()
	if err != nil {
		return nil, err
	}
	return &node{ownNetns: own, cgroup2: sync.OnceValue(attach.Cgroup2Root)}, nil
}

// podCgroup is the cgroup v2 directory of the pod whose sandbox is pid:
// the parent of the sandbox's own (kubepods/…/pod<uid>/<sandbox>), or ""
// if the node has no cgroup v2 hierarchy or the sandbox is not in it.
func (n *node) podCgroup(pid int) string {
	root := n.cgroup2()
	if root == "" {
		return ""
	}
	file, err := inNodeCgroupNS(func() (string, error) { return cgroupFile(pid) })
	path := unifiedCgroup(file)
	if err != nil || path == "" || path == "/" || filepath.Clean(path) != path {
		return ""
	}
	return filepath.Join(root, filepath.Dir(path))
}

// processes are the PIDs of the processes in the cgroups of process pid:
// the processes of its container. Its cgroup v2 directory lists them;
// without one (a node of cgroup v1 only), every process of the node is
// read once per listing, and those in the same cgroups as pid are its
// container's.
func (n *node) processes(pid int) []int {
	file, err := inNodeCgroupNS(func() (string, error) { return cgroupFile(pid) })
	if err != nil {
		return []int{pid}
	}
	if path, root := unifiedCgroup(file), n.cgroup2(); root != "" && path != "" && path != "/" && filepath.Clean(path) == path {
		if pids, err := cgroupProcs(filepath.Join(root, path)); err == nil && slices.Contains(pids, pid) {
			return pids
		}
	}
	if !n.read {
		n.read = true
		n.procs, n.procsErr = inNodeCgroupNS(processesByCgroup)
	}
	if pids := n.procs[file]; n.procsErr == nil && len(pids) > 0 {
		return pids
	}
	return []int{pid}
}
