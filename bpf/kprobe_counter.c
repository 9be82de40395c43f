//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts calls of the kernel function do_sys_openat2, or of whatever
 * function the KprobeProgram attaches it to.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

SEC("kprobe/do_sys_openat2")
int kprobe_openat(void *ctx)
{
	__u32 zero = 0;
	__u64 *val = bpf_map_lookup_elem(&calls, &zero);

	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
