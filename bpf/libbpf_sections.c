//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Program sections libbpf accepts, one trivial program each (their names
 * say the section), and sections an object written for libbpf carries
 * that the loader does not use: libxdp's run config (.xdp_run_config), an
 * xdp_metadata section, a "version" section and a license other than
 * "GPL". Programs only for parsing and labels, except xdp_frags, which
 * loads (test run: XDP_PASS) and counts its runs in runs.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

/* libxdp's XDP_RUN_CONFIG(xdp_frags): its dispatcher reads it. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} _xdp_frags SEC(".xdp_run_config");

__u32 xdp_metadata_version SEC("xdp_metadata") = 1;
__u32 _version SEC("version") = 0x060000;

SEC("xdp.frags")
int xdp_frags(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&runs, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

SEC("xdp/devmap")
int xdp_devmap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_plain(struct __sk_buff *skb)
{
	return 0;
}

SEC("tc/ingress")
int tc_ingress(struct __sk_buff *skb)
{
	return 0;
}

SEC("tc/egress")
int tc_egress(struct __sk_buff *skb)
{
	return 0;
}

SEC("tcx/ingress")
int tcx_ingress(struct __sk_buff *skb)
{
	return 0;
}

SEC("tcx/egress")
int tcx_egress(struct __sk_buff *skb)
{
	return 0;
}

SEC("classifier")
int classifier_prog(struct __sk_buff *skb)
{
	return 0;
}

SEC("?tc")
int tc_optional(struct __sk_buff *skb)
{
	return 0;
}

SEC("uprobe.multi")
int uprobe_multi(void *ctx)
{
	return 0;
}

SEC("uprobe")
int uprobe_plain(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int uretprobe_plain(void *ctx)
{
	return 0;
}

SEC("kprobe.multi/do_sys_*")
int kprobe_multi(void *ctx)
{
	return 0;
}

SEC("kprobe/do_sys_openat2")
int kprobe_plain(void *ctx)
{
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int kretprobe_plain(void *ctx)
{
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int tp_short(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint_long(void *ctx)
{
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_tp_prog(void *ctx)
{
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int raw_tracepoint_prog(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int tp_btf_prog(void *ctx)
{
	return 0;
}

SEC("fentry/do_sys_openat2")
int fentry_prog(void *ctx)
{
	return 0;
}

SEC("fexit/do_sys_openat2")
int fexit_prog(void *ctx)
{
	return 0;
}

SEC("fmod_ret/do_sys_openat2")
int fmod_ret_prog(void *ctx)
{
	return 0;
}

SEC("lsm/file_open")
int lsm_prog(void *ctx)
{
	return 0;
}

SEC("cgroup_skb/ingress")
int cgroup_skb_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int cgroup_skb_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup/sock_create")
int cgroup_sock_create(struct bpf_sock *sk)
{
	return 1;
}

SEC("cgroup/connect4")
int cgroup_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/sysctl")
int cgroup_sysctl(struct bpf_sysctl *ctx)
{
	return 1;
}

SEC("cgroup/dev")
int cgroup_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	return 1;
}

SEC("cgroup/getsockopt")
int cgroup_getsockopt(struct bpf_sockopt *ctx)
{
	return 1;
}

SEC("sk_skb/stream_verdict")
int sk_skb_verdict(struct __sk_buff *skb)
{
	return 0;
}

SEC("sk_msg")
int sk_msg_prog(struct sk_msg_md *msg)
{
	return 1;
}

SEC("sockops")
int sockops_prog(struct bpf_sock_ops *ops)
{
	return 0;
}

SEC("socket")
int socket_prog(struct __sk_buff *skb)
{
	return 0;
}

SEC("perf_event")
int perf_event_prog(void *ctx)
{
	return 0;
}

SEC("iter/task")
int iter_task(void *ctx)
{
	return 0;
}

SEC("syscall")
int syscall_prog(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
