// Package faults is the fault-injection suite: on the real kernel and a
// real API server, it does to a running node what breaks nodes in real
// clusters (the agent killed at every step of its apply path, and at
// every step of an XDP update under a ping flood, the Node object deleted
// under traffic, many updates under a flood, the API server gone for
// minutes, the image cache torn or on a full disk, a registry that never
// answers, the pins' BPF filesystem unmounted, 50 image versions through
// a capped cache) and checks what a user would: the kernel holds exactly
// what the spec says (program, link and map IDs), no pin or link is left
// over, no packet from a blocked address passes, none misses the hook (a
// counter shared by every revision counts each packet received), and
// status reads Ready.
//
// The operator runs in the test process (cmd/bpfleet-local/localstack);
// the agent runs as its own binary, built once, so that it can be killed
// (BPFLEET_KILL_AT, see internal/faultpoint) and started again. Each case
// has its own BPF filesystem, veth pair and network namespace, removed
// when it ends, pass or fail.
package faults
