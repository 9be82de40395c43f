//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A program the verifier must reject: it reads 8 bytes past the end of an
 * 8-byte map value. Used to test how verifier logs are reported.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int rejected(void *ctx)
{
	__u32 zero = 0;
	volatile __u64 *val = bpf_map_lookup_elem(&values, &zero);

	if (!val)
		return 0;
	return val[1];
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
