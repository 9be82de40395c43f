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
}

// Kernel probes the running kernel.
func Kernel() Result {
	hooks := attach.All()
	r := Result{KernelRelease: release(), BTF: hasBTF(), Hooks: make(map[string]string, len(hooks))}
	for _, h := range hooks {
		r.Hooks[h.Name()] = ""
		if err := h.Probe(); err != nil {
			r.Hooks[h.Name()] = err.Error()
		}
	}
	return r
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

// Capabilities is r as the agent publishes it in its NodeProgramReport.
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
