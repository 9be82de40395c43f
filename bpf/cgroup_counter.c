//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts the packets a cgroup sends or receives (cgroup_skb, egress or
 * ingress) and lets them pass.
 *
 * packets: 1-entry array, packets seen.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("cgroup_skb/egress")
int cgroup_skb_count(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&packets, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 1; /* allow */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
