//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts openat(2) calls per process (tgid) and in total.
 *
 * filter_pid: 0 counts every process, otherwise only that tgid.
 * increment:  added per call (lets tests tell two loads apart).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

volatile const __u32 filter_pid = 0;
volatile const __u64 increment = 1;

static void add(void *map, __u32 *key)
{
	__u64 *val = bpf_map_lookup_elem(map, key);
	__u64 init = increment;

	if (val) {
		__sync_fetch_and_add(val, increment);
		return;
	}
	if (bpf_map_update_elem(map, key, &init, BPF_NOEXIST) == 0)
		return;
	val = bpf_map_lookup_elem(map, key);
	if (val)
		__sync_fetch_and_add(val, increment);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 zero = 0;

	if (filter_pid && tgid != filter_pid)
		return 0;
	add(&counts, &tgid);
	add(&total, &zero);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
