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
