//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A flow meter: one object, five programs sharing its maps and globals.
 *
 * flow_ingress, flow_egress (TCX ingress and egress): parse Ethernet, IPv4
 *   or IPv6 (no extension headers) and TCP, UDP or ICMP, account each packet
 *   to its flow in flows and announce each flow they create in new_flows.
 *   They return TCX_NEXT: they observe, never drop.
 * count_drops (tracepoint skb/kfree_skb, kernel 5.17+ for its reason): counts
 *   the packets the kernel frees as dropped, by reason, in drops.
 * count_consumed (tracepoint skb/consume_skb): counts the packets the kernel
 *   frees as consumed (delivered), in stats.
 * tcp_rcv (fentry tcp_rcv_established): counts the TCP segments received on
 *   established sockets, in stats. Kernels that refuse fentry run the rest.
 *
 * flows:     LRU hash (never full: the least recently used flow goes),
 *            struct flow_key -> struct flow_stats, 65536 flows.
 * new_flows: ring buffer of struct flow_event, one per flow created.
 * drops:     array, drop reason (enum skb_drop_reason; 255 counts every
 *            reason from 255 up) -> u64 packets.
 * stats:     array, enum stat -> u64; every program writes it.
 * sampling:  the TCX programs account one packet in sampling (chosen at
 *            random), each as sampling packets; 0 and 1 account every one.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define TCX_NEXT -1
#define IP_OFFSET 0x1fff
#define MAX_REASON 255

struct flow_key {
	__u8 saddr[16];  /* IPv4: the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;     /* host order; ICMP: 0 */
	__u16 dport;     /* host order; ICMP: type << 8 | code, as NetFlow */
	__u32 ifindex;   /* the interface the program ran on */
	__u8 family;     /* 4 or 6 */
	__u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u8 direction;  /* 0 ingress, 1 egress */
	__u8 pad;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;     /* Ethernet frames, header included */
	__u64 first_ns;  /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 last_ns;
};

struct flow_event {
	struct flow_key key;
	__u32 bytes;     /* of the first packet */
	__u64 first_ns;
};

enum stat {
	STAT_INGRESS,    /* packets seen by flow_ingress */
	STAT_EGRESS,     /* packets seen by flow_egress */
	STAT_NOT_IP,     /* packets seen that are neither IPv4 nor IPv6 */
	STAT_NEW_FLOWS,  /* flows created */
	STAT_LOST,       /* new flows not announced: the ring buffer was full */
	STAT_DROPS,      /* runs of count_drops */
	STAT_TCP_RCV,    /* runs of tcp_rcv */
	STAT_CONSUMED,   /* runs of count_consumed */
	STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} new_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_REASON + 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

volatile const __u32 sampling = 1;

static __always_inline void add(void *map, __u32 key)
{
	__u64 *n = bpf_map_lookup_elem(map, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void parse_l4(struct __sk_buff *skb, __u32 off, struct flow_key *k)
{
	__be16 ports[2];
	__u8 icmp[2];

	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) == 0) {
			k->sport = bpf_ntohs(ports[0]);
			k->dport = bpf_ntohs(ports[1]);
		}
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (bpf_skb_load_bytes(skb, off, icmp, sizeof(icmp)) == 0)
			k->dport = icmp[0] << 8 | icmp[1];
		break;
	}
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct flow_key *k)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return -1;
	k->family = 4;
	k->proto = ip.protocol;
	__builtin_memcpy(k->saddr, &ip.saddr, 4);
	__builtin_memcpy(k->daddr, &ip.daddr, 4);
	if (!(ip.frag_off & bpf_htons(IP_OFFSET)))
		parse_l4(skb, ETH_HLEN + ip.ihl * 4, k);
	return 0;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct flow_key *k)
{
	struct ipv6hdr ip;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return -1;
	k->family = 6;
	k->proto = ip.nexthdr;
	__builtin_memcpy(k->saddr, &ip.saddr, 16);
	__builtin_memcpy(k->daddr, &ip.daddr, 16);
	parse_l4(skb, ETH_HLEN + sizeof(ip), k);
	return 0;
}

static __always_inline int parse(struct __sk_buff *skb, struct flow_key *k)
{
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	if (eth.h_proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(skb, k);
	if (eth.h_proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(skb, k);
	return -1;
}

static __always_inline void announce(struct flow_key *k, struct flow_stats *s)
{
	struct flow_event ev = {.key = *k, .bytes = s->bytes, .first_ns = s->first_ns};

	add(&stats, STAT_NEW_FLOWS);
	if (bpf_ringbuf_output(&new_flows, &ev, sizeof(ev), 0))
		add(&stats, STAT_LOST);
}

static __always_inline void account(struct flow_key *k, __u64 weight, __u64 bytes)
{
	__u64 now = bpf_ktime_get_ns();
	struct flow_stats init = {weight, bytes, now, now};
	struct flow_stats *s = bpf_map_lookup_elem(&flows, k);

	if (!s) {
		if (bpf_map_update_elem(&flows, k, &init, BPF_NOEXIST) == 0) {
			announce(k, &init);
			return;
		}
		s = bpf_map_lookup_elem(&flows, k); /* another CPU made it */
		if (!s)
			return;
	}
	__sync_fetch_and_add(&s->packets, weight);
	__sync_fetch_and_add(&s->bytes, bytes);
	s->last_ns = now;
}

static __always_inline int meter(struct __sk_buff *skb, __u8 direction)
{
	struct flow_key k = {};
	__u64 weight = sampling > 1 ? sampling : 1;

	add(&stats, direction ? STAT_EGRESS : STAT_INGRESS);
	if (weight > 1 && bpf_get_prandom_u32() % weight)
		return TCX_NEXT;
	if (parse(skb, &k)) {
		add(&stats, STAT_NOT_IP);
		return TCX_NEXT;
	}
	k.ifindex = skb->ifindex;
	k.direction = direction;
	account(&k, weight, skb->len * weight);
	return TCX_NEXT;
}

SEC("tcx/ingress")
int flow_ingress(struct __sk_buff *skb)
{
	return meter(skb, 0);
}

SEC("tcx/egress")
int flow_egress(struct __sk_buff *skb)
{
	return meter(skb, 1);
}

/* The tracepoint's context, relocated against the kernel's BTF (CO-RE):
 * the offset of reason moved when rx_sk was added (6.12). The enum's values
 * are the kernel's, read from its BTF or the tracepoint's format. */
enum skb_drop_reason { SKB_DROP_REASON_UNKNOWN___flowmeter };

struct trace_event_raw_kfree_skb {
	enum skb_drop_reason reason;
} __attribute__((preserve_access_index));

SEC("tracepoint/skb/kfree_skb")
int count_drops(struct trace_event_raw_kfree_skb *ctx)
{
	__u32 reason = ctx->reason;

	add(&stats, STAT_DROPS);
	add(&drops, reason < MAX_REASON ? reason : MAX_REASON);
	return 0;
}

SEC("tracepoint/skb/consume_skb")
int count_consumed(void *ctx)
{
	add(&stats, STAT_CONSUMED);
	return 0;
}

SEC("fentry/tcp_rcv_established")
int tcp_rcv(__u64 *ctx)
{
	add(&stats, STAT_TCP_RCV);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
