package node

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/bpfleet/bpfleet/internal/testproc"
)

// serviceCIDR is the cluster's service range; its first address is the
// kubernetes Service's, which pods cannot reach here (no kube-proxy).
const serviceCIDR = "10.96.0.0/24"

// startControlPlane starts etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler, with certificates of c's CA, and writes the admin
// kubeconfig.
func (c *Cluster) startControlPlane() error {
	if err := c.startEtcd(); err != nil {
		return err
	}
	if err := c.startAPIServer(); err != nil {
		return err
	}
	var err error
	c.Kubeconfig, err = c.pki.kubeconfig("admin", c.Server, identity{name: "bpfleet-node-admin", groups: []string{"system:masters"}})
	if err != nil {
		return err
	}
	if err := c.waitAPI(); err != nil {
		return err
	}
	if err := c.startControllerManager(); err != nil {
		return err
	}
	return c.startScheduler()
}

func (c *Cluster) startEtcd() error {
	client, peer := testproc.FreePort("127.0.0.1"), testproc.FreePort("127.0.0.1")
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(client)
	var err error
	c.etcd, err = c.startControl("etcd", c.bin("etcd"),
		"--data-dir", filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls", c.etcdURL, "--advertise-client-urls", c.etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", peer),
		"--unsafe-no-fsync")
	return err
}

func (c *Cluster) startAPIServer() error {
	port := testproc.FreePort(NodeIP)
	c.Server = fmt.Sprintf("https://%s:%d", NodeIP, port)
	c.APIPort = port
	serving, servingKey, err := c.pki.issue("apiserver", identity{
		name: "kube-apiserver", server: true,
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips: []net.IP{net.ParseIP(NodeIP), net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
	})
	if err != nil {
		return err
	}
	kubeletClient, kubeletClientKey, err := c.pki.issue("apiserver-kubelet-client", identity{name: "kube-apiserver-kubelet-client", groups: []string{"system:masters"}})
	if err != nil {
		return err
	}
	c.apiserver, err = c.startControl("kube-apiserver", c.bin("kube-apiserver"),
		"--etcd-servers", c.etcdURL,
		"--bind-address", NodeIP, "--advertise-address", NodeIP, "--secure-port", strconv.Itoa(port),
		"--tls-cert-file", serving, "--tls-private-key-file", servingKey,
		"--client-ca-file", c.pki.CAFile,
		"--kubelet-client-certificate", kubeletClient, "--kubelet-client-key", kubeletClientKey,
		"--kubelet-certificate-authority", c.pki.CAFile,
		"--kubelet-preferred-address-types", "InternalIP",
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=true",
		"--service-cluster-ip-range", serviceCIDR,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", c.saKey, "--service-account-signing-key-file", c.saKey,
		"--cert-dir", filepath.Join(c.Dir, "apiserver"),
		"--profiling=false")
	return err
}

func (c *Cluster) startControllerManager() error {
	kubeconfig, err := c.pki.kubeconfig("kube-controller-manager", c.Server, identity{name: "system:kube-controller-manager"})
	if err != nil {
		return err
	}
	c.kcm, err = c.startControl("kube-controller-manager", c.bin("kube-controller-manager"),
		"--kubeconfig", kubeconfig,
		"--use-service-account-credentials=true",
		"--root-ca-file", c.pki.CAFile,
		"--service-account-private-key-file", c.saKey,
		"--leader-elect=false",
		"--secure-port=0",
		"--flex-volume-plugin-dir", filepath.Join(c.Dir, "flexvolume"))
	return err
}

func (c *Cluster) startScheduler() error {
	kubeconfig, err := c.pki.kubeconfig("kube-scheduler", c.Server, identity{name: "system:kube-scheduler"})
	if err != nil {
		return err
	}
	c.scheduler, err = c.startControl("kube-scheduler", c.bin("kube-scheduler"),
		"--kubeconfig", kubeconfig,
		"--leader-elect=false",
		"--secure-port=0")
	return err
}

// startControl starts a part of the control plane, in the node's control
// cgroup: a run killed before Stop leaves nothing the next Start does not
// find there.
func (c *Cluster) startControl(name string, argv ...string) (*process, error) {
	p, err := startProcess(c.logs, name, argv...)
	if err != nil {
		return nil, err
	}
	return p, c.joinCgroup("control", p.cmd.Process.Pid)
}
