package attach

import (
	"fmt"
	"os"

	"github.com/bpfleet/bpfleet/bpfman-agent/nsenter"

	"golang.org/x/sys/unix"
)

// Netns is a network namespace other than the agent's, by path (e.g.
// /proc/<pid>/ns/net of a pod's sandbox) and inode. The zero Netns is the
// agent's own.
type Netns struct {
	Path string
	Ino  uint64
}

// run calls fn on a thread in n: interface names, ifindexes and links
// made there are n's. It refuses a path that no longer names n (the
// process gone, its PID reused) and the agent's own namespace, which a
// pod target must never reach. The thread is restored to the agent's
// namespace, or dropped with its goroutine if it cannot be.
func (n Netns) run(fn func() error) error {
	if n.Path == "" {
		return fn()
	}
	ns, err := os.Open(n.Path)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer ns.Close()
	if err := n.check(ns); err != nil {
		return err
	}
	_, err = nsenter.Run(ns, unix.CLONE_NEWNET, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// check refuses ns unless it is n's namespace and not the agent's.
func (n Netns) check(ns *os.File) error {
	var st, own unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		return fmt.Errorf("network namespace %s: %w", n.Path, err)
	}
	// The thread's: the process's (/proc/self) is its main thread's,
	// which a probe may have left in a namespace of its own (nsenter).
	if err := unix.Stat("/proc/thread-self/ns/net", &own); err != nil {
		return fmt.Errorf("own network namespace: %w", err)
	}
	switch {
	case st.Ino == own.Ino && st.Dev == own.Dev:
		return fmt.Errorf("network namespace %s is the node's own: a pod target never attaches there", n.Path)
	case n.Ino != 0 && st.Ino != n.Ino:
		return fmt.Errorf("network namespace %s is no longer the pod's (its process is gone)", n.Path)
	}
	return nil
}

func (n Netns) String() string {
	if n.Path == "" {
		return ""
	}
	return " in netns " + n.Path
}
