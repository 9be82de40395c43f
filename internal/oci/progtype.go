package oci

import (
	"strings"

	"github.com/cilium/ebpf"
)

// ProgramType names a program's type as the io.ebpf.programs label does,
// from what cilium/ebpf read of its ELF section (which follows libbpf's
// section names: "xdp.frags", "tc/ingress", "uprobe.multi"...).
//
// The hooks bpfleet attaches get the names bpfman's labels give them:
// "xdp"; "tcx" for the TCX sections (tcx/ingress, tcx/egress, and
// tc/ingress, tc/egress, which libbpf attaches with TCX) and "tc" for
// tc and classifier, all of which bpfleet's TCX hook takes; "tracepoint"
// (tp/, tracepoint/); "kprobe", "kretprobe", "uprobe", "uretprobe", their
// .multi forms included; "fentry", "fexit"; "cgroup_skb". Other types
// keep bpfman's names for kernel program types ("lsm", "raw_tracepoint",
// "sk_skb", "socket_filter", "cgroup_sock_addr"...); a tracing program
// that is no fentry/fexit says its kind ("tp_btf", "fmod_ret", "iter").
// Every name is a label word (ParseLabels accepts it).
func ProgramType(p *ebpf.ProgramSpec) string {
	switch p.Type {
	case ebpf.SchedCLS:
		return schedCLSType(p.AttachType)
	case ebpf.Kprobe:
		return probeType(strings.TrimPrefix(p.SectionName, "?"))
	case ebpf.Tracing:
		return tracingType(p.AttachType)
	case ebpf.LSM:
		if p.AttachType == ebpf.AttachLSMCgroup {
			return "lsm_cgroup"
		}
	}
	if name, ok := kernelTypes[p.Type]; ok {
		return name
	}
	return "unspec"
}

func schedCLSType(a ebpf.AttachType) string {
	if a == ebpf.AttachTCXIngress || a == ebpf.AttachTCXEgress {
		return "tcx"
	}
	return "tc"
}

// probeType tells the kinds of kprobe programs apart: the kernel type is
// one, the section says which.
func probeType(section string) string {
	for _, p := range []struct{ prefix, name string }{
		{"kretprobe", "kretprobe"}, {"kretsyscall", "kretprobe"}, {"kprobe", "kprobe"}, {"ksyscall", "kprobe"},
		{"uretprobe", "uretprobe"}, {"uprobe", "uprobe"}, {"usdt", "usdt"},
	} {
		if strings.HasPrefix(section, p.prefix) {
			return p.name
		}
	}
	return "kprobe"
}

func tracingType(a ebpf.AttachType) string {
	switch a {
	case ebpf.AttachTraceFEntry:
		return "fentry"
	case ebpf.AttachTraceFExit:
		return "fexit"
	case ebpf.AttachModifyReturn:
		return "fmod_ret"
	case ebpf.AttachTraceRawTp:
		return "tp_btf"
	case ebpf.AttachTraceIter:
		return "iter"
	}
	return "tracing"
}

// kernelTypes are bpfman's names for the kernel's program types.
var kernelTypes = map[ebpf.ProgramType]string{
	ebpf.SocketFilter:          "socket_filter",
	ebpf.SchedACT:              "sched_act",
	ebpf.TracePoint:            "tracepoint",
	ebpf.XDP:                   "xdp",
	ebpf.PerfEvent:             "perf_event",
	ebpf.CGroupSKB:             "cgroup_skb",
	ebpf.CGroupSock:            "cgroup_sock",
	ebpf.LWTIn:                 "lwt_in",
	ebpf.LWTOut:                "lwt_out",
	ebpf.LWTXmit:               "lwt_xmit",
	ebpf.SockOps:               "sock_ops",
	ebpf.SkSKB:                 "sk_skb",
	ebpf.CGroupDevice:          "cgroup_device",
	ebpf.SkMsg:                 "sk_msg",
	ebpf.RawTracepoint:         "raw_tracepoint",
	ebpf.CGroupSockAddr:        "cgroup_sock_addr",
	ebpf.LWTSeg6Local:          "lwt_seg6local",
	ebpf.LircMode2:             "lirc_mode2",
	ebpf.SkReuseport:           "sk_reuseport",
	ebpf.FlowDissector:         "flow_dissector",
	ebpf.CGroupSysctl:          "cgroup_sysctl",
	ebpf.RawTracepointWritable: "raw_tracepoint_writable",
	ebpf.CGroupSockopt:         "cgroup_sockopt",
	ebpf.StructOps:             "struct_ops",
	ebpf.Extension:             "ext",
	ebpf.LSM:                   "lsm",
	ebpf.SkLookup:              "sk_lookup",
	ebpf.Syscall:               "syscall",
	ebpf.Netfilter:             "netfilter",
}
