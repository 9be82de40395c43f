// Package node runs a real one-node Kubernetes cluster on this machine:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
// from the Go module proxy (hack/envtest-bins.sh), and a kubelet with
// Debian's containerd and runc, so that bpfleet runs as users install it:
// the operator Deployment and the agent DaemonSet from images built
// without Docker (internal/images), pulled from the node's own registry
// (TLS with the cluster's CA, on the node's address).
//
// The node touches nothing of the host it cannot give back. containerd and
// the kubelet run in a mount namespace of their own (tmpfs over /run and
// /var/lib, containerd's sockets at /run/containerd as on a node, where
// the agent's DaemonSet reaches CRI, the harness's directory over /var/log, the sysctls the kubelet
// insists on bound over /proc/sys files, no bpffs or tracefs mounted, as
// on a fresh node); every process, the control plane's too, lives in
// cgroups under the harness's own root (killed and removed on Stop, and
// by the next Start after a killed run); the node's address is on an
// interface of its own; the kubelet makes no iptables chains; Stop deletes
// the CNI bridge and restores ip_forward. TestMain fails if the host's
// mounts, iptables, cgroups or links differ after the run. What this
// machine needs for it, and why, is in ../shared/notes/real-node.md.
package node
