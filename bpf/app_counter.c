//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* An application: several programs of one object sharing one map and one
 * set of globals, each counting its own events in a slot of events.
 *
 * tc_ingress, tc_egress (TCX): packets through the hook, slots 0 and 1.
 * count_openat (tracepoint syscalls/sys_enter_openat): openat(2) calls,
 *   slot 2, of process filter_pid only (0: every process).
 * kprobe_openat (kprobe do_sys_openat2): openat(2) calls, slot 3.
 *
 * increment: added per event (lets tests tell two loads apart).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TCX_NEXT -1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} events SEC(".maps");

volatile const __u32 filter_pid = 0;
volatile const __u64 increment = 1;

static void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&events, &slot);

	if (n)
		__sync_fetch_and_add(n, increment);
}

static int ours(void)
{
	return !filter_pid || bpf_get_current_pid_tgid() >> 32 == filter_pid;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	count(0);
	return TCX_NEXT;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	count(1);
	return TCX_NEXT;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	if (ours())
		count(2);
	return 0;
}

SEC("kprobe/do_sys_openat2")
int kprobe_openat(void *ctx)
{
	if (ours())
		count(3);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
