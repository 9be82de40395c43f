package maps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/bpf"
)

// Counter reads how many entries a hash map holds from the count the
// kernel keeps for it (kernel 6.6+, as bpffs's maps.debug shows it),
// through a BPF map iterator: a walk over the system's maps instead of
// every bucket of the map, microseconds instead of milliseconds for a
// large map. It holds a loaded program and its iterator link (three file
// descriptors) until Close. It is safe for concurrent use.
type Counter struct {
	mu   sync.Mutex
	coll *ebpf.Collection
	iter *link.Iter
}

// NewCounter loads the counting program. It fails on a kernel that keeps
// no count (before 6.6) or without the privileges to load a tracing
// program; callers then count with Usage.
func NewCounter() (*Counter, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.MapCount))
	if err != nil {
		return nil, fmt.Errorf("map counter: %w", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("map counter: %w", err)
	}
	it, err := link.AttachIter(link.IterOptions{Program: coll.Programs["count_entries"]})
	if err != nil {
		coll.Close()
		return nil, fmt.Errorf("map counter: %w", err)
	}
	return &Counter{coll: coll, iter: it}, nil
}

// Close unloads the program.
func (c *Counter) Close() error {
	err := c.iter.Close()
	c.coll.Close()
	return err
}

// Usage is as the package's Usage, from the kernel's count for a hash map
// of any kind (LRU and per-CPU included). A nil Counter, another map
// type, or a count the iterator fails to read counts as Usage does.
func (c *Counter) Usage(m *ebpf.Map) (entries int, max uint32, err error) {
	if c == nil || !counted(m.Type()) {
		return Usage(m)
	}
	n, err := c.count(m)
	if err != nil {
		return Usage(m)
	}
	return n, m.MaxEntries(), nil
}

// counted says whether the kernel keeps a count of the map type's
// entries.
func counted(t ebpf.MapType) bool {
	switch t {
	case ebpf.Hash, ebpf.PerCPUHash, ebpf.LRUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// count runs the iterator once with map_id set to m's ID.
func (c *Counter) count(m *ebpf.Map) (int, error) {
	id, err := mapID(m)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	entries := c.coll.Variables["entries"]
	if err := errors.Join(c.coll.Variables["map_id"].Set(id), entries.Set(int64(-1))); err != nil {
		return 0, fmt.Errorf("count entries: %w", err)
	}
	if err := c.run(); err != nil {
		return 0, fmt.Errorf("count entries: %w", err)
	}
	var n int64
	if err := entries.Get(&n); err != nil {
		return 0, fmt.Errorf("count entries: %w", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("count entries: the kernel lists no map of ID %d", id)
	}
	return int(n), nil
}

// run walks the system's maps with the program.
func (c *Counter) run() error {
	r, err := c.iter.Open()
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	return errors.Join(err, r.Close())
}

// mapID asks the kernel for m's ID: the first two fields of its
// bpf_map_info (type and ID), in one bpf() call, where ebpf.Map.Info
// reads the whole and parses /proc's fdinfo besides.
func mapID(m *ebpf.Map) (uint32, error) {
	var info struct{ typ, id uint32 }
	attr := struct {
		fd, infoLen uint32
		info        uint64
	}{uint32(m.FD()), uint32(unsafe.Sizeof(info)), uint64(uintptr(unsafe.Pointer(&info)))}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET_INFO_BY_FD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(m)
	if errno != 0 {
		return 0, fmt.Errorf("count entries: map info: %w", errno)
	}
	return info.id, nil
}
