package bpf

import _ "embed"

// LibbpfPinned is libbpf_pinned.o, an object written for libbpf: program
// count_pinned (tracepoint syscalls/sys_enter_openat) counts openat(2)
// calls per tgid in map pinned_calls (hash, max 1024, u32 -> u64,
// declared pinned by name: LIBBPF_PIN_BY_NAME) and in map local_calls
// (the same, not pinned); constant filter_pid (u32, 0: every process).
//
//go:embed libbpf_pinned.o
var LibbpfPinned []byte

// LibbpfGlobals is libbpf_globals.o: program read_globals (XDP) copies
// the globals ro_value (.rodata), data_value (.data) and bss_value
// (.bss), all u64, into map seen (3-entry array of u64) at indexes 0, 1
// and 2 each time it runs.
//
//go:embed libbpf_globals.o
var LibbpfGlobals []byte

// LibbpfKconfig is libbpf_kconfig.o: program read_kconfig (XDP) copies
// .kconfig externs into map seen (5-entry array of u64) each time it
// runs: 0 LINUX_KERNEL_VERSION (a u32 typedef), 1 CONFIG_BPF_SYSCALL
// (bool), 2 CONFIG_BPFLEET_NOT_AN_OPTION (bool, __weak, no kernel has
// it), 3 CONFIG_HZ (int, __weak), 4 CONFIG_BPF_JIT (enum
// libbpf_tristate, __weak).
//
//go:embed libbpf_kconfig.o
var LibbpfKconfig []byte

// LibbpfSections is libbpf_sections.o: one trivial program per section
// name libbpf accepts (xdp.frags, tc/ingress, tcx/egress, uprobe.multi,
// kretprobe/, tp/, raw_tp/, tp_btf/, fmod_ret/, lsm/, cgroup/...; each
// program's name says its section), and sections the loader does not use
// (libxdp's .xdp_run_config, xdp_metadata, version, license "Dual
// MIT/GPL"). Program xdp_frags (XDP, frags) counts its runs in map runs
// (1-entry array of u64).
//
//go:embed libbpf_sections.o
var LibbpfSections []byte
