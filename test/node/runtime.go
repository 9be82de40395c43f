package node

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The node's fixed names: one such node runs on a machine at a time (a
// lock says so), and Start clears what a killed run left behind.
const (
	// NodeName is the Node's name.
	NodeName = "bpfleet-node"
	// NodeIP is the node's address, on an interface of its own, in a
	// documentation range that is never routed (RFC 5737).
	NodeIP    = "192.0.2.10"
	nodeLink  = "bpfleetnode0"
	cniBridge = "bpfleetcni0"
	podCIDR   = "10.88.0.0/24"
	// cgroupRoot holds every process of the node: the runtime (containerd,
	// its shims, the kubelet) and the pods, in each cgroup v1 hierarchy.
	cgroupRoot = "bpfleet-node"
	cgroupFS   = "/sys/fs/cgroup"
	// runtimeDir holds containerd's sockets in the node's namespace, as
	// on a node (its default state directory): the shipped DaemonSet
	// mounts it for the agent's CRI client.
	runtimeDir = "/run/containerd"
)

// The sysctls the kubelet sets, or with protectKernelDefaults refuses to
// start without: files holding them are bound over /proc/sys in the node's
// mount namespace, so the host's values stay as they are.
var kubeletSysctls = map[string]string{
	"vm/overcommit_memory": "1",
	"kernel/panic":         "10",
	"kernel/panic_on_oops": "1",
}

// startNamespace starts the process that holds the node's mount
// namespace, and prepares it as a fresh node's: its own /run, /var/lib and
// /var/log, containerd's sockets in /run/containerd, the kubelet's sysctls, no bpffs and no tracefs mounted, and
// shared propagation inside it (the agent's bpffs mount is Bidirectional).
// The preparation runs in the new namespace's first process, before it
// becomes the holder: no mount is ever made before the namespace exists.
func (c *Cluster) startNamespace() error {
	ready := filepath.Join(c.Dir, "namespace-ready")
	var script strings.Builder
	fmt.Fprintf(&script, "set -e\nmount -t tmpfs tmpfs /run\nmount -t tmpfs tmpfs /var/lib\nmount --bind %s /var/log\n", c.sub("log"))
	// containerd's sockets where a node's are, for what the node runs
	// (the agent's DaemonSet mounts /run/containerd as shipped).
	fmt.Fprintf(&script, "mkdir -p %[1]s\nmount --bind %[2]s %[1]s\n", runtimeDir, c.sub("run/containerd"))
	for key, value := range kubeletSysctls {
		file := filepath.Join(c.sub("sysctl"), strings.ReplaceAll(key, "/", "."))
		if err := os.WriteFile(file, []byte(value+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&script, "mount --bind %s /proc/sys/%s\n", file, key)
	}
	script.WriteString("while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf; done\n")
	script.WriteString("while mountpoint -q /sys/kernel/tracing; do umount -l /sys/kernel/tracing; done\n")
	script.WriteString("mount --make-rshared /\n")
	fmt.Fprintf(&script, "touch %s\nexec sleep infinity\n", ready)
	var err error
	c.holder, err = startProcess(c.logs, "namespace", "unshare", "--mount", "--propagation", "private", "sh", "-c", script.String())
	if err != nil {
		return err
	}
	if err := c.waitFile(ready, c.holder); err != nil {
		return fmt.Errorf("prepare the node's mount namespace: %w", err)
	}
	if err := c.joinCgroup("runtime", c.holder.cmd.Process.Pid); err != nil {
		return err
	}
	_, err = c.namespace()
	return err
}

// namespace is the node's mount namespace, as nsenter's arguments. It
// refuses to name this process's own namespace: what runs there would
// change the host's mounts.
func (c *Cluster) namespace() ([]string, error) {
	pid := strconv.Itoa(c.holder.cmd.Process.Pid)
	theirs, err := os.Readlink("/proc/" + pid + "/ns/mnt")
	if err != nil {
		return nil, err
	}
	ours, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return nil, err
	}
	if theirs == ours {
		return nil, fmt.Errorf("process %s is in the host's mount namespace, not the node's", pid)
	}
	return []string{"nsenter", "-t", pid, "-m", "--"}, nil
}

// inNamespace runs argv in the node's mount namespace.
func (c *Cluster) inNamespace(argv ...string) error {
	_, err := c.outputInNamespace(argv...)
	return err
}

// outputInNamespace runs argv in the node's mount namespace, and returns
// its output.
func (c *Cluster) outputInNamespace(argv ...string) (string, error) {
	ns, err := c.namespace()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(ns[0], append(ns[1:], argv...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s in the node's namespace: %w: %s", argv[0], err, out)
	}
	return string(out), nil
}

// startInNamespace starts argv in the node's mount namespace, in the
// runtime's cgroup.
func (c *Cluster) startInNamespace(name string, argv ...string) (*process, error) {
	ns, err := c.namespace()
	if err != nil {
		return nil, err
	}
	p, err := startProcess(c.logs, name, append(ns, argv...)...)
	if err != nil {
		return nil, err
	}
	return p, c.joinCgroup("runtime", p.cmd.Process.Pid)
}

// cgroupHierarchies lists the cgroup v1 hierarchies mounted here.
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupFS)
	if err != nil {
		return nil, err
	}
	var hs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(cgroupFS, e.Name(), "cgroup.procs")); err == nil && e.Name() != "unified" {
			hs = append(hs, e.Name())
		}
	}
	return hs, nil
}

// makeCgroups creates the node's cgroup root, its runtime and its control
// plane's cgroups in every v1 hierarchy (cpuset ones get their parent's
// CPUs and memory nodes).
func makeCgroups() error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		for _, dir := range []string{cgroupRoot, filepath.Join(cgroupRoot, "runtime"), filepath.Join(cgroupRoot, "control")} {
			path := filepath.Join(cgroupFS, h, dir)
			if err := os.MkdirAll(path, 0o755); err != nil {
				return fmt.Errorf("cgroup: %w", err)
			}
			if h == "cpuset" {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := os.ReadFile(filepath.Join(filepath.Dir(path), f))
					if err == nil {
						err = os.WriteFile(filepath.Join(path, f), v, 0o644)
					}
					if err != nil {
						return fmt.Errorf("cgroup %s: %w", f, err)
					}
				}
			}
		}
	}
	return nil
}

// joinCgroup moves pid into the node's cgroup sub in every hierarchy.
func (c *Cluster) joinCgroup(sub string, pid int) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		file := filepath.Join(cgroupFS, h, cgroupRoot, sub, "cgroup.procs")
		if err := os.WriteFile(file, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("cgroup %s: %w", h, err)
		}
	}
	return nil
}

// killCgroups kills every process under the node's cgroup root (the pods,
// containerd's shims, the control plane, what a killed run left) and
// removes its cgroups, in the v1 hierarchies and the unified one (runc
// makes the pods' there too).
func killCgroups() error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	hs = append(hs, "unified")
	deadline := time.Now().Add(30 * time.Second)
	for _, h := range hs {
		root := filepath.Join(cgroupFS, h, cgroupRoot)
		for {
			pids := cgroupPids(root)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("processes %v under %s survive SIGKILL", pids, root)
			}
			for _, pid := range pids {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := removeCgroup(root); err != nil {
			return err
		}
	}
	return nil
}

// cgroupPids lists the processes in dir and below.
func cgroupPids(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return nil
		}
		raw, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(raw)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// removeCgroup removes dir's cgroups, deepest first.
func removeCgroup(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove cgroup: %w", err)
		}
	}
	return nil
}
