package pods

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
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

	mu         sync.Mutex
	sandboxes  map[types.UID]proc
	containers map[string]proc
}

// NewSource lists pods from reader and finds their processes through rt.
func NewSource(reader client.Reader, rt Runtime) *Source {
	return &Source{reader: reader, runtime: rt, sandboxes: map[types.UID]proc{}, containers: map[string]proc{}}
}

// Pods lists the node's running pods. An error of the API cache or of
// the runtime as a whole is a *failure.Wait: no pod target is added or
// removed until it answers.
func (s *Source) Pods(ctx context.Context) ([]attach.Pod, error) {
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
		ap, err := s.locate(ctx, n, pod, seenContainers)
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
func (s *Source) locate(ctx context.Context, n *node, pod *corev1.Pod, seenContainers map[string]bool) (attach.Pod, error) {
	ap := attach.Pod{UID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name, Labels: pod.Labels,
		HostNetwork: pod.Spec.HostNetwork}
	sandbox, err := s.sandbox(ctx, pod.UID)
	if errors.Is(err, ErrNotFound) {
		ap.Err = err
		return ap, nil
	}
	if err != nil {
		return ap, err
	}
	if err := n.network(&ap, sandbox.pid); err != nil {
		ap.Err = err
		return ap, nil
	}
	ap.Cgroup = n.podCgroup(sandbox.pid)
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
		ap.Containers = append(ap.Containers, attach.Container{Name: cs.Name, PIDs: n.processes(c.pid)})
	}
	return ap, nil
}

// sandbox is the first process of pod uid's sandbox.
func (s *Source) sandbox(ctx context.Context, uid types.UID) (proc, error) {
	return cached(s.sandboxes, uid, func() (int, error) { return s.runtime.SandboxPID(ctx, string(uid)) })
}

// container is the first process of container id.
func (s *Source) container(ctx context.Context, id string) (proc, error) {
	return cached(s.containers, id, func() (int, error) { return s.runtime.ContainerPID(ctx, id) })
}

// cached returns the process remembered at key while it lives, else the
// one find names, which it remembers.
func cached[K comparable](m map[K]proc, key K, find func() (int, error)) (proc, error) {
	if p, ok := m[key]; ok && p.alive() {
		return p, nil
	}
	delete(m, key)
	pid, err := find()
	if err != nil {
		return proc{}, err
	}
	p, err := procOf(pid)
	if err != nil {
		return proc{}, fmt.Errorf("process %d: %w", pid, ErrNotFound)
	}
	m[key] = p
	return p, nil
}

// forget drops the entries of m not seen.
func forget[K comparable](m map[K]proc, seen map[K]bool) {
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
// namespace, its cgroup v2 root, and its processes by cgroup (read when
// a container is first located).
type node struct {
	ownNetns uint64
	cgroup2  string
	procs    map[string][]int
	procsErr error
	read     bool
}

func newNode() (*node, error) {
	own, err := ownNetnsIno()
	if err != nil {
		return nil, err
	}
	return &node{ownNetns: own, cgroup2: attach.Cgroup2Root()}, nil
}

// network fills in the network namespace of the pod whose sandbox is pid,
// with its interfaces; a pod in the node's own is of the host's network.
func (n *node) network(ap *attach.Pod, pid int) error {
	ino, err := netnsIno(pid)
	if err != nil {
		return err
	}
	if ino == n.ownNetns {
		ap.HostNetwork = true
		return nil
	}
	ap.Netns, ap.NetnsIno = netnsPath(pid), ino
	ap.Interfaces, ap.Primary, err = interfaces(pid)
	return err
}

// podCgroup is the cgroup v2 directory of the pod whose sandbox is pid:
// the parent of the sandbox's own (kubepods/…/pod<uid>/<sandbox>), or ""
// if the node has no cgroup v2 hierarchy or the sandbox is not in it.
func (n *node) podCgroup(pid int) string {
	if n.cgroup2 == "" {
		return ""
	}
	file, err := inNodeCgroupNS(func() (string, error) { return cgroupFile(pid) })
	path := unifiedCgroup(file)
	if err != nil || path == "" || path == "/" || filepath.Clean(path) != path {
		return ""
	}
	return filepath.Join(n.cgroup2, filepath.Dir(path))
}

// processes are the PIDs of the processes in the cgroups of process pid:
// the processes of its container.
func (n *node) processes(pid int) []int {
	if !n.read {
		n.read = true
		n.procs, n.procsErr = inNodeCgroupNS(processesByCgroup)
	}
	file, err := inNodeCgroupNS(func() (string, error) { return cgroupFile(pid) })
	if pids := n.procs[file]; err == nil && n.procsErr == nil && len(pids) > 0 {
		return pids
	}
	return []int{pid}
}
