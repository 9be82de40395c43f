package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a running one-node cluster.
type Cluster struct {
	// Dir holds everything the cluster writes: certificates, etcd's data,
	// containerd's content, logs (Dir/logs).
	Dir string
	// Kubeconfig is the admin's kubeconfig file; Config the same as a
	// rest.Config; Server the API server's URL, APIPort its port.
	Kubeconfig string
	Config     *rest.Config
	Server     string
	APIPort    int
	// Registry is the host:port of the node's registry (TLS, the
	// cluster's CA), PushRegistry the same content's on loopback (plain
	// HTTP), and PauseImage the sandbox image there.
	Registry     string
	PushRegistry string
	PauseImage   string

	root    string // the repository's root: bin/ holds the binaries
	logs    string
	lock    *os.File
	pki     *pki
	saKey   string
	etcdURL string

	etcd, apiserver, kcm, scheduler *process
	holder, containerd, kubelet     *process
	kubeletArgs                     []string
	registries                      []*http.Server
}

// Dir is where the one-node cluster keeps its files; one runs at a time.
var Dir = filepath.Join(os.TempDir(), "bpfleet-node")

// Start brings the cluster up, with binaries from root's bin/ (built by
// hack/envtest-bins.sh), and waits until its node is Ready. On error, what
// was started is stopped.
func Start(ctx context.Context, root string) (c *Cluster, err error) {
	c = &Cluster{Dir: Dir, root: root}
	if err := c.takeLock(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
			c = nil
		}
	}()
	if err := c.prepare(); err != nil {
		return c, err
	}
	if err := c.startRegistry(ctx); err != nil {
		return c, err
	}
	if err := c.startControlPlane(); err != nil {
		return c, err
	}
	if err := c.startNode(); err != nil {
		return c, err
	}
	return c, c.waitNodeReady(ctx)
}

// takeLock makes sure no other one-node cluster runs here, then clears
// what a killed one left behind.
func (c *Cluster) takeLock() error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("a one-node cluster already runs here (%s is locked): stop it first", f.Name())
	}
	if err := clearLastRun(c.Dir); err != nil {
		f.Close()
		return err
	}
	c.lock = f
	return nil
}

// clearLastRun removes what a run left in dir: its processes (all under the
// node's cgroups), interfaces, iptables chains and files, all but the
// lock.
func clearLastRun(dir string) error {
	if err := errors.Join(killCgroups(), teardownNetwork(dir), removeKubeletChains()); err != nil {
		return fmt.Errorf("clear the last run: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "lock" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepare makes the directories, the CA and the node's network and
// cgroups.
func (c *Cluster) prepare() error {
	c.logs = c.sub("logs")
	for _, d := range []string{"logs", "containerd", "run/containerd", "runc", "cni/net.d", "cni/ipam", "certs.d", "log", "sysctl", "flexvolume", "volume-plugins", "kubelet"} {
		if err := os.MkdirAll(c.sub(d), 0o755); err != nil {
			return err
		}
	}
	var err error
	if c.pki, err = newPKI(c.sub("pki")); err != nil {
		return err
	}
	if c.saKey, err = c.pki.signingKey(); err != nil {
		return err
	}
	if err := makeCgroups(); err != nil {
		return err
	}
	return c.setupNetwork()
}

// startNode starts the node's mount namespace, containerd and the
// kubelet.
func (c *Cluster) startNode() error {
	if err := c.startNamespace(); err != nil {
		return err
	}
	if err := c.writeContainerdConfig(); err != nil {
		return err
	}
	var err error
	c.containerd, err = c.startInNamespace("containerd", "containerd", "--config", filepath.Join(c.Dir, "containerd.toml"))
	if err != nil {
		return err
	}
	serving, servingKey, err := c.pki.issue("kubelet-serving", identity{name: NodeName, server: true, dns: []string{NodeName}, ips: []net.IP{net.ParseIP(NodeIP)}})
	if err != nil {
		return err
	}
	config, err := c.writeKubeletConfig(serving, servingKey)
	if err != nil {
		return err
	}
	kubeconfig, err := c.pki.kubeconfig("kubelet", c.Server, identity{name: "system:node:" + NodeName, groups: []string{"system:nodes"}})
	if err != nil {
		return err
	}
	if err := c.waitFile(c.containerdSocket(), c.containerd); err != nil {
		return err
	}
	c.kubeletArgs = []string{c.bin("kubelet"),
		"--config", config, "--kubeconfig", kubeconfig,
		"--hostname-override", NodeName, "--node-ip", NodeIP,
		"--root-dir", "/var/lib/kubelet"}
	c.kubelet, err = c.startInNamespace("kubelet", c.kubeletArgs...)
	return err
}

// RestartKubelet stops the kubelet and starts it again (its pods keep
// running, as on a node whose kubelet restarts), and waits until the node
// is Ready; a kubelet registers its Node as it starts.
func (c *Cluster) RestartKubelet(ctx context.Context) error {
	if err := c.kubelet.stop(30 * time.Second); err != nil {
		return err
	}
	var err error
	if c.kubelet, err = c.startInNamespace("kubelet", c.kubeletArgs...); err != nil {
		return err
	}
	return c.waitNodeReady(ctx)
}

// waitFile waits until file exists (p made it), or p ends.
func (c *Cluster) waitFile(file string, p *process) error {
	return wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		if done, err := p.exited(); done {
			return false, err
		}
		_, err := os.Stat(file)
		return err == nil, nil
	})
}

// waitAPI waits until the API server answers, and keeps its rest.Config.
func (c *Cluster) waitAPI() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	c.Config = cfg
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if done, err := c.apiserver.exited(); done {
			return false, err
		}
		raw, err := cs.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && strings.TrimSpace(string(raw)) == "ok", nil
	})
}

// waitNodeReady waits until the node is registered and Ready.
func (c *Cluster) waitNodeReady(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, p := range []*process{c.containerd, c.kubelet, c.kcm, c.scheduler} {
			if done, err := p.exited(); done {
				return false, err
			}
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s not Ready (logs in %s): %w", NodeName, c.logs, err)
	}
	return nil
}

// Stop stops the node (kubelet, pods, containerd, the namespace), then
// the control plane, and removes the node's cgroups and interfaces. The
// directory stays for its logs until the next Start.
func (c *Cluster) Stop() error {
	if c == nil || c.lock == nil {
		return nil
	}
	errs := []error{c.kubelet.stop(10 * time.Second)}
	for _, p := range []*process{c.scheduler, c.kcm, c.apiserver, c.etcd} {
		errs = append(errs, p.stop(10*time.Second))
	}
	errs = append(errs, killCgroups()) // the pods, the shims, containerd, the namespace
	for _, p := range []*process{c.containerd, c.holder} {
		errs = append(errs, p.stop(10*time.Second))
	}
	errs = append(errs, c.stopRegistry(), teardownNetwork(c.Dir), removeKubeletChains())
	errs = append(errs, c.lock.Close())
	c.lock = nil
	return errors.Join(errs...)
}

// sub is a directory under Dir.
func (c *Cluster) sub(path string) string { return filepath.Join(c.Dir, path) }

// bin is the path of a binary hack/envtest-bins.sh built.
func (c *Cluster) bin(name string) string { return filepath.Join(c.root, "bin", name) }
