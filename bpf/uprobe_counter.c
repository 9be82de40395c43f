//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts calls of the user-space function it is attached to, as a uprobe or
 * a uretprobe. The section names no target: the attach point comes from the
 * UprobeProgram.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

SEC("uprobe")
int count_calls(void *ctx)
{
	__u32 zero = 0;
	__u64 *val = bpf_map_lookup_elem(&calls, &zero);

	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
