// Package attach holds what the agent knows of each hook, one file per
// hook (tracepoint.go, xdp.go, tcx.go, uprobe.go, kprobe.go, fentry.go,
// cgroup.go): the file registers a Hook — its API name, how to probe the kernel for it,
// how to plan its targets from the node's Facts, which of its settings
// links are made with (LinkKey, the links part of a revision) — and
// defines the Spec that attaches one target. Adding a hook is one file
// and one case in conformance_test.go, which runs every registered hook.
//
// Planning is pure: Hook.Plan reads the settings and Facts only; ReadFacts
// and Facts.AddLinks are where the node is read. Hooks fixed at load time
// also implement Preparer; hooks whose status detail can be read back from
// the kernel implement Describer. A kernel that lacks a hook's facility
// fails Attach with *failure.Unsupported; settings the agent cannot act on
// are a *failure.Invalid, and a target that must wait (for another
// program's link, a cgroup to appear) a *failure.Wait.
//
// A Spec only attaches. Pinning, adoption after a restart and detaching are
// done on the returned link.Link by the caller, the same way for every
// kind; TestConformance checks that every hook supports that life cycle.
// The caller owns the returned link's file descriptor.
package attach
