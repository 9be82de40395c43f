package pins

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// RootState is what the file system says of the root: the device and
// inode of the root or, while it is missing, of its nearest existing
// ancestor, and whether that lies on a BPF filesystem. Each bpffs mount
// is an instance of its own, with a device of its own: a root whose
// state changed lost its pins (its bpffs unmounted, or it was removed).
type RootState struct {
	Dev, Ino uint64
	Missing  bool // the root does not exist
	BPFFS    bool
}

// State reads the root's state.
func (l Layout) State() (RootState, error) {
	dir, missing := l.Root, false
	var st unix.Stat_t
	for {
		err := unix.Stat(dir, &st)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENOENT) || dir == filepath.Dir(dir) {
			return RootState{}, fmt.Errorf("pin root: stat %s: %w", dir, err)
		}
		dir, missing = filepath.Dir(dir), true
	}
	bpffs, err := IsBPFFS(dir)
	if err != nil {
		return RootState{}, fmt.Errorf("pin root: %w", err)
	}
	return RootState{Dev: uint64(st.Dev), Ino: st.Ino, Missing: missing, BPFFS: bpffs}, nil
}

// Restore makes the root again after it lost its pins (now is its
// State): it mounts a BPF filesystem at MountAt if the root is no longer
// on one and MountAt allows it, then creates the root. It creates nothing
// outside a BPF filesystem.
func (l Layout) Restore(now RootState) error {
	if !now.BPFFS {
		if l.MountAt == "" {
			return fmt.Errorf("%s is not on a BPF filesystem any more, and the agent may not mount one for it (only at %s, or where --bpffs-mount-at says): mount one there", l.Root, BPFFSPath)
		}
		if err := MountBPFFS(l.MountAt); err != nil {
			return err
		}
	}
	return l.Init()
}

// DefaultMountAt is the mount point the agent may mount a BPF filesystem
// at for root: BPFFSPath for a root under it, else none ("").
func DefaultMountAt(root string) string {
	if root == BPFFSPath || strings.HasPrefix(filepath.Clean(root), BPFFSPath+"/") {
		return BPFFSPath
	}
	return ""
}

// checkMountAt checks that MountAt, if set, is Root or one of its
// ancestors: mounting there is what gives Root a BPF filesystem again.
func (l Layout) checkMountAt() error {
	if l.MountAt == "" {
		return nil
	}
	rel, err := filepath.Rel(l.MountAt, l.Root)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || !filepath.IsAbs(l.MountAt) {
		return fmt.Errorf("pin root %s: mount point %s is not an absolute path above it", l.Root, l.MountAt)
	}
	return nil
}
