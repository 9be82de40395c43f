package main

import (
	"fmt"
	"net/url"
	"strconv"
)

// kubeconfig names the file, in a VM's results share, that points its
// tests at the VM's API server.
const kubeconfig = "kubeconfig"

// writeKubeconfig writes an admin kubeconfig of k's API server to file
// and returns the server's port: the guest reaches it on its own
// loopback, relayed to the host's (vmspec.Spec.Forward), so the server's
// address and certificate hold there too.
func (k *kernelRun) writeKubeconfig(file string) (int, error) {
	u, err := url.Parse(k.plane.Config.Host)
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return 0, fmt.Errorf("API server %s: no port", k.plane.Config.Host)
	}
	return port, k.plane.Kubeconfig(file)
}
