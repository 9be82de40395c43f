package nsenter

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// names are the /proc/<pid>/ns entries of the namespace types Run enters.
var names = map[int]string{unix.CLONE_NEWNET: "net", unix.CLONE_NEWCGROUP: "cgroup"}

// Run calls fn on a thread that entered ns, an open namespace file
// (/proc/<pid>/ns/…, or one bind-mounted elsewhere) of type nstype
// (unix.CLONE_NEWNET or unix.CLONE_NEWCGROUP), and then returns to the
// caller's namespace.
func Run[T any](ns *os.File, nstype int, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	out := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		v, err, back := enter(ns, nstype, fn)
		if back {
			runtime.UnlockOSThread()
		}
		out <- result{v, err}
	}()
	r := <-out
	return r.v, r.err
}

// enter runs fn in ns on the locked calling thread; back reports whether
// the thread is in its own namespace again.
func enter[T any](ns *os.File, nstype int, fn func() (T, error)) (v T, err error, back bool) {
	name, ok := names[nstype]
	if !ok {
		return v, fmt.Errorf("namespace type %#x: not one nsenter enters", nstype), true
	}
	own, err := os.Open("/proc/thread-self/ns/" + name)
	if err != nil {
		return v, fmt.Errorf("own %s namespace: %w", name, err), true
	}
	defer own.Close()
	if err := unix.Setns(int(ns.Fd()), nstype); err != nil {
		return v, fmt.Errorf("enter %s namespace %s: %w", name, ns.Name(), err), true
	}
	v, err = fn()
	return v, err, unix.Setns(int(own.Fd()), nstype) == nil
}

// Unshared calls fn on a thread of its own in a new namespace of type
// nstype. The thread is never unlocked: it exits with its goroutine, and
// the namespace with it (unless fn kept a file of it).
func Unshared(nstype int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(nstype); err != nil {
			errc <- fmt.Errorf("new namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
