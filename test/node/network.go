package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const ipForward = "/proc/sys/net/ipv4/ip_forward"

// setupNetwork gives the node its address on an interface of its own (one
// end of a veth pair: this kernel has no dummy interfaces), and
// records the host's ip_forward (the CNI bridge's gateway turns it on) so
// that teardown, even after a killed run, restores it.
func (c *Cluster) setupNetwork() error {
	saved := filepath.Join(c.Dir, "ip_forward")
	if _, err := os.Stat(saved); os.IsNotExist(err) {
		v, err := os.ReadFile(ipForward)
		if err != nil {
			return err
		}
		if err := os.WriteFile(saved, v, 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"link", "add", nodeLink, "type", "veth", "peer", "name", nodeLink + "p"},
		{"addr", "add", NodeIP + "/32", "dev", nodeLink},
		{"link", "set", nodeLink + "p", "up"},
		{"link", "set", nodeLink, "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// teardownNetwork deletes the node's interfaces (its veth pair with one
// end; the pods' veths went with their namespaces) and restores
// ip_forward.
func teardownNetwork(dir string) error {
	var errs []error
	for _, link := range []string{cniBridge, nodeLink} {
		if exec.Command("ip", "link", "show", link).Run() == nil {
			errs = append(errs, ip("link", "del", link))
		}
	}
	saved := filepath.Join(dir, "ip_forward")
	if v, err := os.ReadFile(saved); err == nil {
		errs = append(errs, os.WriteFile(ipForward, v, 0o644), os.Remove(saved))
	}
	return errors.Join(errs...)
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// kubeletChains are the iptables chains a kubelet makes (with
// makeIPTablesUtilChains, its default; this one runs without, but an
// earlier version of the harness did not), by table, and the built-in
// chains that jump to them.
var kubeletChains = []struct {
	table, chain string
	from         []string
}{
	{"filter", "KUBE-FIREWALL", []string{"INPUT", "OUTPUT"}},
	{"filter", "KUBE-KUBELET-CANARY", nil},
	{"nat", "KUBE-KUBELET-CANARY", nil},
	{"mangle", "KUBE-KUBELET-CANARY", nil},
	{"mangle", "KUBE-IPTABLES-HINT", nil},
}

// removeKubeletChains removes the kubelet's iptables chains from the
// host, IPv4 and IPv6, where there are any.
func removeKubeletChains() error {
	var errs []error
	for _, cmd := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(cmd); err != nil {
			continue
		}
		for _, k := range kubeletChains {
			if exec.Command(cmd, "-t", k.table, "-S", k.chain).Run() != nil {
				continue // not there
			}
			for _, from := range k.from {
				for exec.Command(cmd, "-t", k.table, "-D", from, "-j", k.chain).Run() == nil {
				}
			}
			for _, op := range []string{"-F", "-X"} {
				if out, err := exec.Command(cmd, "-t", k.table, op, k.chain).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("%s -t %s %s %s: %w: %s", cmd, k.table, op, k.chain, err, out))
				}
			}
		}
	}
	return errors.Join(errs...)
}
