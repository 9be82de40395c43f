package bpf

import _ "embed"

// Flowmeter is flowmeter.o, one object of five programs sharing its maps:
// flow_ingress and flow_egress (sections tcx/ingress and tcx/egress)
// account each IPv4 or IPv6 packet to its flow in map flows (LRU hash of
// 65536, struct flow_key -> struct flow_stats) and announce each flow
// they create in map new_flows (ring buffer of struct flow_event);
// count_drops (tracepoint skb/kfree_skb) counts dropped packets by
// reason in map drops (array of u64, index enum skb_drop_reason);
// count_consumed (tracepoint skb/consume_skb) counts delivered packets and
// tcp_rcv (fentry/tcp_rcv_established) TCP segments received. Every
// program counts in map stats (array of u64, enum stat in flowmeter.c).
// Constant sampling (u32): account one packet in sampling. The layouts
// are in flowmeter.c.
//
//go:embed flowmeter.o
var Flowmeter []byte
