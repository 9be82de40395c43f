package oci

import (
	"slices"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// hookTypes lists, per hook of the API, the program types (as the
// io.ebpf.programs label says them, and ProgramType derives them from
// ELF sections) whose programs the hook attaches. With ProgramType, it is
// the one place that says which section makes a program fit for which
// hook.
var hookTypes = map[string][]string{
	bpfleetv1.HookTracepoint: {"tracepoint"},
	bpfleetv1.HookXDP:        {"xdp"},
	// A TCX link takes any sched_cls program: tc, tcx, classifier.
	bpfleetv1.HookTCX: {"tc", "tcx"},
	// The kernel runs kprobes and uprobes, entry or return, as one program
	// type: a probe's section says where libbpf would attach it, not
	// where it can attach.
	bpfleetv1.HookKprobe: {"kprobe", "kretprobe", "uprobe", "uretprobe"},
	bpfleetv1.HookUprobe: {"uprobe", "uretprobe", "usdt", "kprobe", "kretprobe"},
	// fentry and fexit programs are loaded for their attach type.
	bpfleetv1.HookFentry: {"fentry"},
	bpfleetv1.HookFexit:  {"fexit"},
	// cgroup_skb/…, cgroup/sock_create, cgroup/connect4… ("cgroup": an
	// image built before ProgramType said the kernel type).
	bpfleetv1.HookCgroup: {"cgroup_skb", "cgroup_sock", "cgroup_sock_addr", "cgroup"},
	// lsm/<hook>, not lsm_cgroup/<hook> (a cgroup's LSM link).
	bpfleetv1.HookLSM: {"lsm"},
}

// HookRuns reports whether hook (a hook of the API, e.g. "XDP") attaches
// programs of type typ (as the io.ebpf.programs label names it). For a
// hook it does not know, it says true: it refuses only what it knows
// cannot attach.
func HookRuns(hook, typ string) bool {
	types, ok := hookTypes[hook]
	return !ok || slices.Contains(types, typ)
}

// HookTypes lists the program types hook attaches, for messages (nil for
// a hook it does not know).
func HookTypes(hook string) []string { return hookTypes[hook] }
