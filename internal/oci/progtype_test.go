package oci_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// TestLibbpfSectionTypes reads an object holding a program in each
// section name libbpf accepts: each gets the label type bpfman's labels
// use for its hook, and the labels parse back (a '.' or '?' in a type,
// as "xdp.frags" or "?tc", would make every agent refuse the image).
func TestLibbpfSectionTypes(t *testing.T) {
	want := map[string]string{
		"xdp_frags": "xdp", "xdp_devmap": "xdp",
		"tc_plain": "tc", "classifier_prog": "tc", "tc_optional": "tc",
		"tc_ingress": "tcx", "tc_egress": "tcx", "tcx_ingress": "tcx", "tcx_egress": "tcx",
		"uprobe_multi": "uprobe", "uprobe_plain": "uprobe", "uretprobe_plain": "uretprobe",
		"kprobe_multi": "kprobe", "kprobe_plain": "kprobe", "kretprobe_plain": "kretprobe",
		"tp_short": "tracepoint", "tracepoint_long": "tracepoint",
		"raw_tp_prog": "raw_tracepoint", "raw_tracepoint_prog": "raw_tracepoint", "tp_btf_prog": "tp_btf",
		"fentry_prog": "fentry", "fexit_prog": "fexit", "fmod_ret_prog": "fmod_ret", "lsm_prog": "lsm",
		"cgroup_skb_ingress": "cgroup_skb", "cgroup_skb_egress": "cgroup_skb",
		"cgroup_sock_create": "cgroup_sock", "cgroup_connect4": "cgroup_sock_addr",
		"cgroup_sysctl": "cgroup_sysctl", "cgroup_dev": "cgroup_device", "cgroup_getsockopt": "cgroup_sockopt",
		"sk_skb_verdict": "sk_skb", "sk_msg_prog": "sk_msg", "sockops_prog": "sock_ops",
		"socket_prog": "socket_filter", "perf_event_prog": "perf_event", "iter_task": "iter",
		"syscall_prog": "syscall",
	}
	b, err := oci.BytecodeFromELF("libbpf_sections.o", "", bpf.LibbpfSections)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if b.Programs[name] != want[name] {
			t.Errorf("%s: type %q, want %q", name, b.Programs[name], want[name])
		}
	}
	if len(b.Programs) != len(want) {
		t.Errorf("programs %v, want %v", b.Programs, want)
	}
	raw, err := json.Marshal(b.Programs)
	if err != nil {
		t.Fatal(err)
	}
	programs, _, err := oci.ParseLabels(map[string]string{oci.LabelPrograms: string(raw)})
	if err != nil || !maps.Equal(programs, b.Programs) {
		t.Fatalf("labels do not parse back: %v, %v", programs, err)
	}
}
