package csi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// mountFlags are a volume's: it holds pins only.
const mountFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// mountMaps mounts, at target (made if missing), a directory of a BPF
// filesystem of its own holding a pin of each map, named after it,
// readable by every user of the pod (and writable with ReadWrite); it is
// made read-only unless access is ReadWrite. The filesystem is mounted at
// staging first, and only its directory bound at target: the kernel puts
// entries of its own in a new filesystem's root (bpf_preload's
// maps.debug and progs.debug, listing every map and program of the host),
// which cannot be removed and which the pod must not see. On failure it
// leaves no mount and no directory it made.
func mountMaps(target, staging, under string, ms map[string]*ebpf.Map, access bpfleetv1.MapAccessMode) error {
	if err := checkNoSymlinks(target, under); err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return fmt.Errorf("make target %s: %w", target, err)
	}
	if err := bindFresh(target, staging); err != nil {
		return errors.Join(err, os.Remove(target))
	}
	if err := pinAll(target, ms, access); err != nil {
		return errors.Join(err, unmountMaps(target))
	}
	return nil
}

// checkNoSymlinks refuses a target that is a symbolic link, or whose
// directory is reached through one below under (the kubelet's pods
// directory, which may itself be reached through links, as a kubelet
// root moved to another disk is): the agent mounts where it points.
func checkNoSymlinks(target, under string) error {
	dir := filepath.Dir(target)
	want, err := realBelow(dir, under)
	if err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("target %s: %w", target, err)
	}
	if err == nil && real != want {
		return fmt.Errorf("target %s is reached through a symbolic link (to %s)", target, real)
	}
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("target %s is a symbolic link", target)
	}
	return nil
}

// realBelow is where dir is if no link below under leads elsewhere: under
// with its own links resolved, then dir's path below it ("" under: dir).
func realBelow(dir, under string) (string, error) {
	if under == "" {
		return dir, nil
	}
	rel, err := filepath.Rel(under, dir)
	if err != nil {
		return "", err
	}
	realUnder, err := filepath.EvalSymlinks(under)
	if err != nil {
		return "", err
	}
	return filepath.Join(realUnder, rel), nil
}

// bindFresh mounts a new BPF filesystem at staging, binds a directory of
// it at target, and unmounts it from staging, which it removes.
func bindFresh(target, staging string) error {
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return fmt.Errorf("make %s: %w", staging, err)
	}
	defer os.Remove(staging)
	if err := unix.Mount("bpf", staging, "bpf", mountFlags, "mode=0700"); err != nil {
		return fmt.Errorf("mount a BPF filesystem at %s: %w", staging, err)
	}
	defer unix.Unmount(staging, unix.MNT_DETACH) //nolint:errcheck // the bind keeps the filesystem
	maps := filepath.Join(staging, "maps")
	if err := os.Mkdir(maps, 0o755); err != nil {
		return fmt.Errorf("make the volume's directory: %w", err)
	}
	if err := unix.Mount(maps, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the volume at %s: %w", target, err)
	}
	return nil
}

// pinAll pins ms in the volume at target, then makes it read-only unless
// access is ReadWrite.
func pinAll(target string, ms map[string]*ebpf.Map, access bpfleetv1.MapAccessMode) error {
	for name, m := range ms {
		if err := pinIn(target, name, m, access); err != nil {
			return err
		}
	}
	if access == bpfleetv1.MapReadWrite {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_RDONLY|mountFlags, ""); err != nil {
		return fmt.Errorf("make the volume at %s read-only: %w", target, err)
	}
	return nil
}

// pinIn pins m in the volume at target as name, with the mode access
// gives every user of the pod (a pin is made 0600, for root only).
func pinIn(target, name string, m *ebpf.Map, access bpfleetv1.MapAccessMode) error {
	path := filepath.Join(target, name)
	// A map opened from a pin is moved by Pin: pin a clone, which is not.
	c, err := m.Clone()
	if err != nil {
		return fmt.Errorf("pin map %s in the volume: %w", name, err)
	}
	defer c.Close()
	if err := c.Pin(path); err != nil {
		return fmt.Errorf("pin map %s in the volume: %w", name, err)
	}
	mode := uint32(0o444)
	if access == bpfleetv1.MapReadWrite {
		mode = 0o666
	}
	if err := chmodPin(path, mode); err != nil {
		return fmt.Errorf("pin map %s in the volume: %w", name, err)
	}
	return nil
}

// chmodPin sets the mode of the pin at path, never of what a symbolic
// link there points to: in a writable volume, the pod may have replaced
// the pin since it was made.
func chmodPin(path string, mode uint32) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is no longer the pin made there", path)
	}
	return unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), mode)
}

// replacePin points the writable volume's pin name at m, or removes it
// when m is nil.
func replacePin(target, name string, m *ebpf.Map) error {
	path := filepath.Join(target, name)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unpin map %s from the volume: %w", name, err)
	}
	if m == nil {
		return nil
	}
	return pinIn(target, name, m, bpfleetv1.MapReadWrite)
}

// unmountMaps unmounts the volume at target, if one is mounted there, and
// removes target. The pod's own view of it (the container's bind) goes
// with the pod; the maps are released once nothing else holds them.
func unmountMaps(target string) error {
	mounted, err := isVolume(target)
	if err != nil {
		return err
	}
	if mounted {
		if err := unix.Unmount(target, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove target %s: %w", target, err)
	}
	return nil
}

// isVolume reports whether a BPF filesystem is mounted at target itself
// (not merely target inside one).
func isVolume(target string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); errors.Is(err, unix.ENOENT) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("statfs %s: %w", target, err)
	}
	if int64(st.Type) != unix.BPF_FS_MAGIC {
		return false, nil
	}
	var self, parent unix.Stat_t
	if err := unix.Stat(target, &self); err != nil {
		return false, fmt.Errorf("stat %s: %w", target, err)
	}
	if err := unix.Stat(filepath.Dir(target), &parent); err != nil {
		return false, fmt.Errorf("stat %s: %w", filepath.Dir(target), err)
	}
	return self.Dev != parent.Dev, nil
}

// pinnedIDs reads the kernel IDs of the maps pinned in the volume at
// target, by name; a name with no pin there is left out.
func pinnedIDs(target string, names []string) (map[string]uint32, error) {
	out := make(map[string]uint32, len(names))
	for _, name := range names {
		if fi, err := os.Lstat(filepath.Join(target, name)); err != nil || !fi.Mode().IsRegular() {
			continue // gone, or not a pin (a writable volume's pod may make anything)
		}
		m, err := ebpf.LoadPinnedMap(filepath.Join(target, name), &ebpf.LoadPinOptions{ReadOnly: true})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open map %s in the volume: %w", name, err)
		}
		info, err := m.Info()
		m.Close()
		if err != nil {
			return nil, fmt.Errorf("map %s in the volume: %w", name, err)
		}
		id, _ := info.ID()
		out[name] = uint32(id)
	}
	return out, nil
}
