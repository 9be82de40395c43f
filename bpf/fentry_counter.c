//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts entries into (key 0) and exits from (key 1) the kernel function
 * do_sys_openat2, through BTF trampolines. The programs read no arguments,
 * so they need no vmlinux.h: ctx is the raw array of u64 arguments.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

static void count(__u32 key)
{
	__u64 *val = bpf_map_lookup_elem(&calls, &key);

	if (val)
		__sync_fetch_and_add(val, 1);
}

SEC("fentry/do_sys_openat2")
int fentry_openat(__u64 *ctx)
{
	count(0);
	return 0;
}

SEC("fexit/do_sys_openat2")
int fexit_openat(__u64 *ctx)
{
	count(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
