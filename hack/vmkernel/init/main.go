// Command init is the /init of the test VMs hack/vmkernel/run boots: a
// static binary (CGO_ENABLED=0) in a small initramfs. It loads the
// modules the initramfs carries (virtio, 9p, overlay, in order), mounts
// the host's root read-only over 9p under a tmpfs overlay, mounts the
// guest kernel's own proc, sys, dev, bpffs, tracefs, debugfs, securityfs
// and cgroup2 in it, binds the guest kernel's modules and config where
// Debian has them, chroots there, runs the test binaries the spec names
// and powers off. Nothing the tests write reaches the host, except their
// output, in the writable share "results".
//
// The spec and the files it writes are package vmspec's.
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/hack/vmkernel/vmspec"
)

// Where the pieces are mounted before the chroot.
const (
	lowerDir = "/lower"   // the host's root, read-only
	rwDir    = "/rw"      // tmpfs: the overlay's upper and work folders
	rootDir  = "/newroot" // the overlay the tests run in
)

func main() {
	err := run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bpfleet-vm: %v\n", err)
	}
	unix.Sync()
	// Powering off ends qemu; if that fails, init exits, the kernel
	// panics and qemu (-no-reboot, panic=-1) exits too.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	time.Sleep(time.Minute)
}

// run prepares the root, runs the tests and records their outcome.
func run() error {
	// The kernel starts init with hardly any environment.
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	os.Setenv("HOME", "/root")
	os.Setenv("TMPDIR", "/tmp")
	if err := earlyMounts(); err != nil {
		return err
	}
	if err := loadModules("/modules"); err != nil {
		return err
	}
	if err := mountRoot(); err != nil {
		return err
	}
	spec, err := readSpec(rootDir + vmspec.GuestResults + "/" + vmspec.SpecFile)
	if err != nil {
		return err
	}
	if err := mountGuestKernel(spec); err != nil {
		return err
	}
	if err := enterRoot(); err != nil {
		return err
	}
	return runTests(spec)
}

// mount mounts fs of type typ at target, creating target.
func mount(source, target, typ string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", target, err)
	}
	if err := unix.Mount(source, target, typ, flags, data); err != nil {
		return fmt.Errorf("mount %s (%s) at %s: %w", source, typ, target, err)
	}
	return nil
}

// earlyMounts gives the initramfs proc, sys and dev.
func earlyMounts() error {
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			return err
		}
	}
	return nil
}
