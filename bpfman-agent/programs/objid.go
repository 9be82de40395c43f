package programs

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf() commands.
const (
	bpfObjGet         = 7
	bpfObjGetInfoByFD = 15
)

// bpfPointer is a pointer in a bpf() attribute: a u64 for the kernel, an
// unsafe.Pointer for the garbage collector (as cilium/ebpf's sys.Pointer,
// on 64-bit platforms: the agent builds for no other).
type bpfPointer struct{ ptr unsafe.Pointer }

// A pointer must be the kernel's u64 (this fails to compile where not).
var _ [unsafe.Sizeof(bpfPointer{}) - 8]byte

// pinnedID returns the kernel ID of the BPF object pinned at path. Two
// bpf() calls: ebpf.LoadPinnedMap and Map.Info, which pinnedMapIDs called
// before, each also read the map's /proc fdinfo (tens of megabytes of
// garbage a pass with a thousand programs).
func pinnedID(path string) (uint32, error) {
	name, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	attr := struct {
		pathname  bpfPointer
		bpfFd     uint32
		fileFlags uint32
	}{pathname: bpfPointer{ptr: unsafe.Pointer(name)}}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, bpfObjGet, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return 0, fmt.Errorf("open pin %s: %w", path, errno)
	}
	defer unix.Close(int(fd))
	return objectID(int(fd))
}

// objectID returns the kernel ID of the BPF object (program, map or link)
// fd holds: the second u32 of each of their infos.
func objectID(fd int) (uint32, error) {
	var info struct{ typ, id uint32 }
	attr := struct {
		bpfFd   uint32
		infoLen uint32
		info    bpfPointer
	}{bpfFd: uint32(fd), infoLen: uint32(unsafe.Sizeof(info)), info: bpfPointer{ptr: unsafe.Pointer(&info)}}
	_, _, errno := unix.Syscall(unix.SYS_BPF, bpfObjGetInfoByFD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return 0, fmt.Errorf("object info: %w", errno)
	}
	return info.id, nil
}
