// Package probe finds what the node's kernel can run: its release, whether
// it has BTF, and which program types load. It runs once at agent start;
// each probe loads and closes a minimal program, leaving nothing behind.
package probe

import (
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// programTypes are the program types bpfleet's kinds use, by the name the
// status shows.
var programTypes = map[string]ebpf.ProgramType{
	"Tracepoint": ebpf.TracePoint,
	"Kprobe":     ebpf.Kprobe,
	"XDP":        ebpf.XDP,
	"SchedCLS":   ebpf.SchedCLS,
	"Tracing":    ebpf.Tracing,
	"CGroupSKB":  ebpf.CGroupSKB,
}

// Kernel probes the running kernel.
func Kernel() bpfleetv1.NodeCapabilities {
	return bpfleetv1.NodeCapabilities{
		KernelRelease: release(),
		BTF:           hasBTF(),
		ProgramTypes:  loadable(),
	}
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

// loadable lists the program types the kernel loads.
func loadable() []string {
	var out []string
	for name, typ := range programTypes {
		if err := features.HaveProgramType(typ); err == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
