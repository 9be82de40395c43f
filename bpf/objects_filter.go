package bpf

import _ "embed"

// XDPFilter is xdp_filter.o: program xdp_filter (XDP) drops IPv4 packets
// whose source address is a key of map blocklist (hash, max 1024 entries,
// key struct ip_key { __u32 addr; } in network byte order, value struct
// verdict { __u64 drops; } counting the drops) and passes everything else.
//
//go:embed xdp_filter.o
var XDPFilter []byte
