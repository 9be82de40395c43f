package pins

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Well-known mount points.
const (
	BPFFSPath      = "/sys/fs/bpf"
	TracefsPath    = "/sys/kernel/tracing"
	SecurityfsPath = "/sys/kernel/security"
)

// EnsureMounted mounts bpffs at BPFFSPath and tracefs at TracefsPath unless
// they are already there. Call it before the first tracepoint attach:
// cilium/ebpf remembers a missing tracefs for the life of the process.
func EnsureMounted() error {
	if err := MountBPFFS(BPFFSPath); err != nil {
		return err
	}
	return EnsureTracefs()
}

// EnsureTracefs mounts tracefs at TracefsPath unless it is already there.
func EnsureTracefs() error {
	return ensureMount(TracefsPath, "tracefs", unix.TRACEFS_MAGIC)
}

// EnsureSecurityfs mounts securityfs at SecurityfsPath unless it is
// already there: its lsm file lists the kernel's active LSMs.
func EnsureSecurityfs() error {
	return ensureMount(SecurityfsPath, "securityfs", unix.SECURITYFS_MAGIC)
}

// MountBPFFS mounts a BPF filesystem at dir, creating dir if needed, unless
// one is already mounted there. Tests use it on a temporary directory to
// get a private bpffs.
func MountBPFFS(dir string) error {
	return ensureMount(dir, "bpf", unix.BPF_FS_MAGIC)
}

// IsBPFFS reports whether dir is the root of, or inside, a BPF filesystem.
func IsBPFFS(dir string) (bool, error) {
	return hasMagic(dir, unix.BPF_FS_MAGIC)
}

func ensureMount(dir, fstype string, magic int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", fstype, err)
	}
	mounted, err := hasMagic(dir, magic)
	if err != nil || mounted {
		return err
	}
	if err := unix.Mount(fstype, dir, fstype, 0, ""); err != nil {
		return fmt.Errorf("mount %s at %s: %w", fstype, dir, err)
	}
	return nil
}

func hasMagic(dir string, magic int64) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Type) == magic, nil
}
