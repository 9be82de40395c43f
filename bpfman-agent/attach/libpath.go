package attach

// Finding the file a uprobe target names, inside a root (a container's
// /proc/<pid>/root) without following links out of it: library names are
// looked up in ld.so.cache and the usual directories.
import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// open opens the file Target names (O_PATH), and returns its path inside
// Root.
func (u Uprobe) open() (string, *os.File, error) {
	if strings.HasPrefix(u.Target, "/") {
		f, err := openFile(u.Root, u.Target)
		return u.Target, f, err
	}
	for _, path := range libraryCandidates(u.Root, u.Target) {
		f, err := openFile(u.Root, path)
		if err == nil && isHostELF(f) {
			return path, f, nil
		}
		if err == nil {
			f.Close()
		}
	}
	return "", nil, fmt.Errorf("library %s for %s not found in %s or %s: %w",
		u.Target, runtime.GOARCH, ldCachePath, strings.Join(libraryDirs(), ", "), os.ErrNotExist)
}

// openIn opens path with flags, resolving it inside root (all of it,
// symbolic links included) unless root is empty.
func openIn(root, path string, flags uint64) (*os.File, error) {
	dirfd, how := unix.AT_FDCWD, unix.OpenHow{Flags: flags | unix.O_CLOEXEC}
	if root != "" {
		fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: root, Err: err}
		}
		defer unix.Close(fd)
		dirfd, how.Resolve = fd, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS
	}
	name := filepath.Join("/", root, path)
	fd, err := unix.Openat2(dirfd, path, &how)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openFile opens a regular file as O_PATH: opening a FIFO or a device
// planted in a container could block or act.
func openFile(root, path string) (*os.File, error) {
	f, err := openIn(root, path, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", f.Name())
	}
	return f, nil
}

func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// isHostELF reports whether f is an ELF file for this machine, like the
// agent's own binary: a library cache may list 32-bit libraries too, and
// a "libc.so" may be a linker script.
func isHostELF(f *os.File) bool {
	host, err := hostELF()
	if err != nil {
		return false
	}
	ef, err := elf.Open(fdPath(f))
	if err != nil {
		return false
	}
	defer ef.Close()
	return ef.Machine == host.Machine && ef.Class == host.Class
}

var hostELF = sync.OnceValues(func() (elf.FileHeader, error) {
	ef, err := elf.Open("/proc/self/exe")
	if err != nil {
		return elf.FileHeader{}, err
	}
	defer ef.Close()
	return ef.FileHeader, nil
})

// libraryCandidates lists the files that may be the library name inside
// root: from ld.so.cache first, then from the usual folders.
func libraryCandidates(root, name string) []string {
	out := ldCacheLookup(readLDCache(root), name)
	for _, dir := range libraryDirs() {
		for _, entry := range readDirNames(root, dir) {
			if isLibrary(entry, name) {
				out = append(out, dir+"/"+entry)
			}
		}
	}
	return out
}

// isLibrary reports whether file is library name: "libc" is "libc.so.6"
// (glibc) or "libc.musl-x86_64.so.1" (musl), not "libcap.so.2".
func isLibrary(file, name string) bool {
	return file == name || strings.HasPrefix(file, name+".") && strings.Contains(file, ".so")
}

var multiarch = map[string]string{
	"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "ppc64le": "powerpc64le-linux-gnu",
	"s390x": "s390x-linux-gnu", "riscv64": "riscv64-linux-gnu",
}

func libraryDirs() []string {
	dirs := []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"}
	if triplet := multiarch[runtime.GOARCH]; triplet != "" {
		dirs = append([]string{"/lib/" + triplet, "/usr/lib/" + triplet}, dirs...)
	}
	return dirs
}

func readDirNames(root, dir string) []string {
	f, err := openIn(root, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	slices.Sort(names)
	return names
}

const (
	ldCachePath  = "/etc/ld.so.cache"
	ldCacheMagic = "glibc-ld.so.cache1.1"
	ldCacheMax   = 16 << 20
	// The header is the magic, nlibs, len_strings, flags and padding,
	// extension_offset and 3 unused words; an entry is flags, key,
	// value, osversion (4 bytes each) and hwcap (8).
	ldCacheHeader = 48
	ldCacheEntry  = 24
)

func readLDCache(root string) []byte {
	f, err := openFile(root, ldCachePath)
	if err != nil {
		return nil
	}
	defer f.Close()
	r, err := os.Open(fdPath(f))
	if err != nil {
		return nil
	}
	defer r.Close()
	data, _ := io.ReadAll(io.LimitReader(r, ldCacheMax))
	return data
}

// ldCacheLookup returns, in the cache's order, the paths of the libraries
// an ld.so.cache in glibc's format lists under name. Bad data gives fewer
// results, never a panic.
func ldCacheLookup(data []byte, name string) []string {
	start := bytes.Index(data, []byte(ldCacheMagic))
	if start < 0 || len(data)-start < ldCacheHeader {
		return nil
	}
	c := data[start:] // string offsets count from the magic
	n := min(int(binary.NativeEndian.Uint32(c[20:])), (len(c)-ldCacheHeader)/ldCacheEntry)
	var out []string
	for i := range n {
		e := c[ldCacheHeader+i*ldCacheEntry:]
		key, value := cString(c, binary.NativeEndian.Uint32(e[4:])), cString(c, binary.NativeEndian.Uint32(e[8:]))
		if isLibrary(key, name) && isCleanAbs(value) {
			out = append(out, value)
		}
	}
	return out
}

func cString(b []byte, off uint32) string {
	if uint64(off) >= uint64(len(b)) {
		return ""
	}
	s := b[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}
