//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts getppid(2) calls in per-CPU maps, as libbpf programs count
 * events without atomics: each CPU adds to its own copy of a value.
 *
 * weight: per-CPU array of one __u32 (key 0), written by a control
 *         plane: what a call adds to stats.weighted, read from the copy of
 *         the CPU the call runs on.
 * stats:  per-CPU hash, __u32 tgid -> struct stats { __u64 calls;
 *         __u64 weighted; }.
 * seen:   LRU per-CPU hash, __u32 tgid -> __u64 calls.
 *
 * filter_pid: 0 counts every process, otherwise only that tgid.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct stats {
	__u64 calls;
	__u64 weighted;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} weight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

volatile const __u32 filter_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct stats *s, init = {};
	__u64 *n, one = 1;
	__u32 zero = 0, *w;

	if (filter_pid && tgid != filter_pid)
		return 0;
	s = bpf_map_lookup_elem(&stats, &tgid);
	if (!s) {
		bpf_map_update_elem(&stats, &tgid, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stats, &tgid);
	}
	w = bpf_map_lookup_elem(&weight, &zero);
	if (s) {
		s->calls++;
		if (w)
			s->weighted += *w;
	}
	n = bpf_map_lookup_elem(&seen, &tgid);
	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&seen, &tgid, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
