package bpf

import _ "embed"

// TracepointCounter is tracepoint_counter.o: program count_openat on
// syscalls/sys_enter_openat, maps counts (hash, u32 tgid -> u64) and
// total (1-entry array of u64), constants filter_pid (u32) and
// increment (u64).
//
//go:embed tracepoint_counter.o
var TracepointCounter []byte

// TracepointCounterBigEndian is tracepoint_counter.c compiled for
// big-endian eBPF (-target bpfeb), as an s390x node loads it; a
// little-endian host refuses it.
//
//go:embed tracepoint_counter_bpfeb.o
var TracepointCounterBigEndian []byte

// Reject is reject.o: tracepoint program rejected, which the verifier
// refuses because it reads past a map value.
//
//go:embed reject.o
var Reject []byte

// XDPCounter is xdp_counter.o: program xdp_count (XDP), map packets
// (1-entry array of u64) counting received packets, constant drop_icmp
// (u8: 1 drops IPv4 ICMP).
//
//go:embed xdp_counter.o
var XDPCounter []byte

// TCCounter is tc_counter.o: program tc_count (SchedCLS, for TCX ingress
// or egress), map packets (1-entry array of u64); it returns TCX_NEXT.
//
//go:embed tc_counter.o
var TCCounter []byte

// CgroupCounter is cgroup_counter.o: program cgroup_skb_count (CGroupSKB,
// for a cgroup's egress or ingress), map packets (1-entry array of u64);
// it lets every packet pass.
//
//go:embed cgroup_counter.o
var CgroupCounter []byte

// MapCount is map_count.o: program count_entries (iter/bpf_map), which
// sets the global entries (__s64) to the kernel's own entry count of the
// map whose ID is the global map_id (__u32), through the kfunc
// bpf_map_sum_elem_count (kernel 6.6+, kept for hash maps).
//
//go:embed map_count.o
var MapCount []byte

// AppCounter is app_counter.o, an application: programs tc_ingress and
// tc_egress (TCX), count_openat (tracepoint syscalls/sys_enter_openat)
// and kprobe_openat (kprobe do_sys_openat2) share map events (4-entry
// array of u64: one slot each, in that order) and constants filter_pid
// (u32, for the two openat programs) and increment (u64).
//
//go:embed app_counter.o
var AppCounter []byte
