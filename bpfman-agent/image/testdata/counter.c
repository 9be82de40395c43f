// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Test object for the image store: one tracepoint program, one map.
// Built by `go generate ./bpfman-agent/image` (see generate_test.go).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} openat_count SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&openat_count, &key);

	if (value)
		__sync_fetch_and_add(value, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
