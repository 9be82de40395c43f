//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reads the number of entries of one map from the kernel's own counter
 * (bpf_map_sum_elem_count, kernel 6.6+, kept for hash maps), as the
 * bpffs maps.debug file shows it: a BPF map iterator visits every map and
 * stops at the one whose ID is map_id.
 *
 * map_id:  the ID of the map to count, set before each read.
 * entries: its count after the read; -1 if no map has that ID.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct bpf_map {
	__u32 id;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map {
	struct bpf_map *map;
} __attribute__((preserve_access_index));

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

__u32 map_id = 0;
__s64 entries = -1;

SEC("iter/bpf_map")
int count_entries(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (map && map->id == map_id)
		entries = bpf_map_sum_elem_count(map);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
