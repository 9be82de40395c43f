//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Global variables in each data section libbpf knows, for globalData to
 * set: ro_value in .rodata, data_value in .data, bss_value in .bss.
 * Each run of read_globals (XDP; BPF_PROG_TEST_RUN runs it) copies them
 * into the array seen: index 0 .rodata, 1 .data, 2 .bss.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

volatile const __u64 ro_value = 1;
volatile __u64 data_value = 2;
volatile __u64 bss_value;

static void put(__u32 key, __u64 value)
{
	bpf_map_update_elem(&seen, &key, &value, BPF_ANY);
}

SEC("xdp")
int read_globals(struct xdp_md *ctx)
{
	put(0, ro_value);
	put(1, data_value);
	put(2, bss_value);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
