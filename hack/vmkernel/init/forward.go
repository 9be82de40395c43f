package main

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"

	"github.com/bpfleet/bpfleet/hack/vmkernel/vmspec"
)

// guestNet is the guest's side of qemu's user-mode network.
var guestNet = [][]string{
	{"modprobe", "virtio_net"},
	{"ip", "link", "set", "eth0", "up"},
	{"ip", "addr", "add", "10.0.2.15/24", "dev", "eth0"},
	{"ip", "route", "add", "default", "via", vmspec.HostAddr},
}

// forward brings up the guest's network and relays each of ports from
// the guest's loopback to the host, for as long as the init runs.
func forward(ports []int) error {
	if len(ports) == 0 {
		return nil
	}
	for _, args := range guestNet {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %w: %s", args, err, out)
		}
	}
	for _, port := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("relay of port %d: %w", port, err)
		}
		go relay(l, net.JoinHostPort(vmspec.HostAddr, strconv.Itoa(port)))
	}
	return nil
}

// relay copies each connection l accepts to and from to.
func relay(l net.Listener, to string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer up.Close()
			go func() {
				_, _ = io.Copy(up, c)
				up.Close() // the client is done: so is the server's side
			}()
			_, _ = io.Copy(c, up)
		}()
	}
}
