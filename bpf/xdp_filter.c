//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Drops IPv4 packets from the source addresses in a blocklist.
 *
 * blocklist: hash, struct ip_key (IPv4 source address, network order) ->
 *            struct verdict (packets dropped from that address). The
 *            control plane writes it; the program never reloads.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct ip_key {
	__u32 addr;
};

struct verdict {
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ip_key);
	__type(value, struct verdict);
} blocklist SEC(".maps");

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct ip_key key = {};
	struct verdict *v;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	key.addr = ip->saddr;
	v = bpf_map_lookup_elem(&blocklist, &key);
	if (!v)
		return XDP_PASS;
	__sync_fetch_and_add(&v->drops, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
