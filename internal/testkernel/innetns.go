package testkernel

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// InNetns runs fn on an OS thread of its own switched into the network
// namespace ns (one `ip netns add` made, as VethPair's peer namespace).
// Sockets fn opens belong to ns, and stay there when other goroutines use
// them afterwards. The thread is never unlocked, so it exits with its
// goroutine and no other goroutine runs in ns.
func InNetns(tb testing.TB, ns string, fn func() error) {
	tb.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- enterNetns(ns, fn)
	}()
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}

func enterNetns(ns string, fn func() error) error {
	f, err := os.Open(filepath.Join("/var/run/netns", ns))
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", ns, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", ns, err)
	}
	return fn()
}
