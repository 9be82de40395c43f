package probe

import (
	"maps"
	"slices"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// Result is what the kernel can do.
type Result struct {
	KernelRelease string
	BTF           bool
	// Hooks maps each hook name (bpfleetv1.HookTracepoint, HookXDP...) to
	// "" if programs attach there, else a short reason fit for status,
	// e.g. "kernel lacks kprobes (no kprobe PMU, no kprobe_events in
	// tracefs)".
	Hooks map[string]string
	// Unknown maps the hooks whose probe was inconclusive (out of memory,
	// busy: attach.Inconclusive) to its error. They are not published, so
	// the operator does not take programs off the node for them, and are
	// probed again by Retry.
	Unknown map[string]string
}

// Kernel probes the running kernel.
func Kernel() Result {
	r := Result{KernelRelease: release(), BTF: hasBTF(), Hooks: map[string]string{}, Unknown: map[string]string{}}
	for _, h := range attach.All() {
		r.record(h.Name(), h.Probe())
	}
	return r
}

// Retry probes again the hooks whose probe was inconclusive, and reports
// whether any is known now.
func (r *Result) Retry() bool {
	known := false
	for _, name := range slices.Sorted(maps.Keys(r.Unknown)) {
		h, err := attach.Lookup(name)
		if err == nil {
			err = h.Probe()
		}
		r.record(name, err)
		_, still := r.Unknown[name]
		known = known || !still
	}
	return known
}

// record files a hook's probe result.
func (r *Result) record(name string, err error) {
	delete(r.Unknown, name)
	delete(r.Hooks, name)
	switch {
	case err == nil:
		r.Hooks[name] = ""
	case attach.Inconclusive(err):
		r.Unknown[name] = err.Error()
	default:
		r.Hooks[name] = err.Error()
	}
}

// Supported lists the hooks programs attach to, sorted.
func (r Result) Supported() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.Hooks)) {
		if r.Hooks[name] == "" {
			out = append(out, name)
		}
	}
	return out
}

// Capabilities is r as the agent publishes it in its NodeProgramReport:
// hooks of an inconclusive probe are left out (the operator reads a hook
// not listed as one the node can run).
func (r Result) Capabilities() bpfleetv1.NodeCapabilities {
	c := bpfleetv1.NodeCapabilities{KernelRelease: r.KernelRelease, BTF: r.BTF}
	for _, name := range slices.Sorted(maps.Keys(r.Hooks)) {
		why := r.Hooks[name]
		c.Hooks = append(c.Hooks, bpfleetv1.HookSupport{Name: name, Supported: why == "", Reason: why})
	}
	return c
}

func release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func hasBTF() bool {
	_, err := btf.LoadKernelSpec()
	return err == nil
}
