//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* An object written for libbpf that pins a map by name: libbpf pins it at
 * <pin root>/<map name> and a later load reuses it, contents included.
 *
 * pinned_calls: hash pinned by name (LIBBPF_PIN_BY_NAME), u32 tgid -> u64
 *               openat(2) calls of that process.
 * local_calls:  the same, not pinned.
 * filter_pid:   0 counts every process, otherwise only that tgid.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} local_calls SEC(".maps");

volatile const __u32 filter_pid = 0;

static void add(void *map, __u32 *key)
{
	__u64 one = 1, *val = bpf_map_lookup_elem(map, key);

	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(map, key, &one, BPF_NOEXIST);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int count_pinned(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (filter_pid && tgid != filter_pid)
		return 0;
	add(&pinned_calls, &tgid);
	add(&local_calls, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
