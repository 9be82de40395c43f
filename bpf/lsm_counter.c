//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts the files opened (the LSM hook file_open), in counts[0], and
 * allows each open: an LSM program's return value is the hook's verdict
 * (0: allowed). It reads no argument, so it needs no vmlinux.h. BPF LSM
 * programs must be GPL.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("lsm/file_open")
int lsm_file_open(__u64 *ctx)
{
	__u32 key = 0;
	__u64 *val = bpf_map_lookup_elem(&counts, &key);

	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
