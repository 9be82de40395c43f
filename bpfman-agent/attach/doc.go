// Package attach describes where a program hooks into the kernel and how
// to attach it there: one small Spec implementation per kind of hook, one
// file each (tracepoint.go, xdp.go, tcx.go, uprobe.go, kprobe.go,
// fentry.go). Hooks fixed at load time also implement Preparer; hooks whose
// status detail can be read back from the kernel implement Describer. A
// kernel that lacks a hook's facility fails Attach with *UnsupportedError.
//
// A Spec only attaches. Pinning, adoption after a restart and detaching are
// done on the returned link.Link by the caller, the same way for every
// kind; conformance_test.go checks that every Spec supports that life
// cycle. The caller owns the returned link's file descriptor.
package attach
