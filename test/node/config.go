package node

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeContainerdConfig writes containerd's configuration: every path
// under the harness's directory, the pause image from the node's registry,
// whose certificate the cluster's CA signed, and no OOM score adjustments (this VM's
// bounding set lacks CAP_SYS_RESOURCE: runc fails to raise a score).
func (c *Cluster) writeContainerdConfig() error {
	cfg := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %[6]q
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[8]q
`, c.sub("containerd/root"), c.sub("containerd/state"), c.containerdSocket(), c.sub("run/containerd/containerd.sock.ttrpc"),
		c.PauseImage, c.sub("runc"), c.sub("cni/net.d"), c.sub("certs.d"))
	if err := os.WriteFile(filepath.Join(c.Dir, "containerd.toml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	hosts := fmt.Sprintf("server = %[1]q\n\n[host.%[1]q]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %[2]q\n", "https://"+c.Registry, c.pki.CAFile)
	dir := filepath.Join(c.sub("certs.d"), c.Registry)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts.toml"), []byte(hosts), 0o644); err != nil {
		return err
	}
	return c.writeCNIConfig()
}

// containerdSocket is containerd's CRI socket as the harness reaches it;
// in the node's namespace it is at runtimeDir/containerd.sock (a bind
// mount of its directory), where the kubelet and the agent reach it.
func (c *Cluster) containerdSocket() string {
	return c.sub("run/containerd/containerd.sock")
}

// writeCNIConfig writes the pod network: a bridge with host-local
// addresses and no masquerading (no rule is added to the host's tables).
func (c *Cluster) writeCNIConfig() error {
	cfg := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "bpfleet-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "loopback"}
  ]
}
`, cniBridge, podCIDR, c.sub("cni/ipam"))
	return os.WriteFile(filepath.Join(c.sub("cni/net.d"), "10-bpfleet-node.conflist"), []byte(cfg), 0o644)
}

// writeKubeletConfig writes the kubelet's configuration: cgroup v1 with
// the cgroupfs driver under the node's root, webhook authentication and
// authorization (kubectl logs and exec work), eviction thresholds low
// enough for a shared machine, no healthz port, no read-only port, and no
// iptables chains (the kubelet shares the host's network namespace).
func (c *Cluster) writeKubeletConfig(serving, servingKey string) (string, error) {
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%s
containerRuntimeEndpoint: unix://%s/containerd.sock
address: %s
readOnlyPort: 0
healthzPort: 0
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %s
authorization:
  mode: Webhook
failSwapOn: false
makeIPTablesUtilChains: false
protectKernelDefaults: true
serializeImagePulls: false
volumePluginDir: %s
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, cgroupRoot, runtimeDir, NodeIP, serving, servingKey, c.pki.CAFile, c.sub("volume-plugins"))
	file := filepath.Join(c.Dir, "kubelet.yaml")
	return file, os.WriteFile(file, []byte(cfg), 0o644)
}
