package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/hack/vmkernel/vmspec"
)

// ninep are the options of the 9p mounts: virtio transport, 512 KiB
// messages; the host's files do not change while the VM runs, so the
// root is cached.
const ninep = "trans=virtio,version=9p2000.L,msize=524288"

// mountRoot mounts the host's root read-only with a tmpfs over it at
// rootDir, and the results share at rootDir/vmspec.GuestResults.
func mountRoot() error {
	if err := mount(vmspec.HostRootTag, lowerDir, "9p", unix.MS_RDONLY, ninep+",cache=loose"); err != nil {
		return err
	}
	if err := mount("tmpfs", rwDir, "tmpfs", 0, "mode=0755"); err != nil {
		return err
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(rwDir, d), 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lowerDir, rwDir, rwDir)
	if err := mount("overlay", rootDir, "overlay", 0, opts); err != nil {
		return err
	}
	return guestMounts()
}

// guestMounts mounts the guest kernel's file systems over the host's. /tmp
// stays the overlay's (writable, and showing the host's): the repository
// and the test binaries may be there (CI works in a fresh clone in /tmp).
func guestMounts() error {
	for _, m := range []struct{ src, dst, typ, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
		{"devpts", "/dev/pts", "devpts", ""},
		{"tmpfs", "/dev/shm", "tmpfs", ""},
		{"bpffs", "/sys/fs/bpf", "bpf", ""},
		{"tracefs", "/sys/kernel/tracing", "tracefs", ""},
		{"debugfs", "/sys/kernel/debug", "debugfs", ""},
		{"securityfs", "/sys/kernel/security", "securityfs", ""}, // lsm: is BPF LSM active
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", ""},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
		{vmspec.ResultsTag, vmspec.GuestResults, "9p", ninep},
	} {
		if err := mount(m.src, rootDir+m.dst, m.typ, 0, m.data); err != nil {
			return err
		}
	}
	return nil
}

// readSpec reads the runner's spec.
func readSpec(file string) (*vmspec.Spec, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the spec: %w", err)
	}
	var s vmspec.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("spec %s: %w", file, err)
	}
	return &s, nil
}

// mountGuestKernel binds the guest kernel's modules, which the host
// folder spec.Modules holds, where modprobe looks for them, and its
// configuration where Debian installs it.
func mountGuestKernel(spec *vmspec.Spec) error {
	kernel, err := release()
	if err != nil {
		return err
	}
	if err := mount(rootDir+spec.Modules, rootDir+"/lib/modules/"+kernel, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	config := rootDir + "/boot/config-" + kernel
	if err := os.MkdirAll(filepath.Dir(config), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(config, nil, 0o644); err != nil {
		return fmt.Errorf("create %s: %w", config, err)
	}
	return unix.Mount(rootDir+spec.Config, config, "", unix.MS_BIND, "")
}

// enterRoot makes rootDir the root of init and of the tests.
func enterRoot() error {
	if err := unix.Chroot(rootDir); err != nil {
		return fmt.Errorf("chroot %s: %w", rootDir, err)
	}
	return os.Chdir("/")
}
