//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* .kconfig externs as libbpf objects declare them: the loader sets them
 * from the running kernel before load. A __weak extern the kernel lacks
 * reads 0 (libbpf's rule).
 *
 * Each run of read_kconfig (XDP; BPF_PROG_TEST_RUN runs it) copies them
 * into the array seen: index 0 LINUX_KERNEL_VERSION, 1 CONFIG_BPF_SYSCALL
 * (y: 1), 2 CONFIG_BPFLEET_NOT_AN_OPTION (absent: 0), 3 CONFIG_HZ, 4
 * CONFIG_BPF_JIT as a tristate (y: 1, m: 2).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef __u32 u32;

extern u32 LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern _Bool CONFIG_BPFLEET_NOT_AN_OPTION __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static void put(__u32 key, __u64 value)
{
	bpf_map_update_elem(&seen, &key, &value, BPF_ANY);
}

SEC("xdp")
int read_kconfig(struct xdp_md *ctx)
{
	put(0, LINUX_KERNEL_VERSION);
	put(1, CONFIG_BPF_SYSCALL);
	put(2, CONFIG_BPFLEET_NOT_AN_OPTION);
	put(3, CONFIG_HZ);
	put(4, CONFIG_BPF_JIT);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
