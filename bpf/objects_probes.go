package bpf

import _ "embed"

// UprobeCounter is uprobe_counter.o: program count_calls, section
// "uprobe" (attach point set at attach time, as a uprobe or uretprobe),
// map calls (1-entry array of u64) counting its runs.
//
//go:embed uprobe_counter.o
var UprobeCounter []byte

// KprobeCounter is kprobe_counter.o: program kprobe_openat on
// kprobe/do_sys_openat2, map calls (1-entry array of u64).
//
//go:embed kprobe_counter.o
var KprobeCounter []byte

// FentryCounter is fentry_counter.o: programs fentry_openat
// (fentry/do_sys_openat2) and fexit_openat (fexit/do_sys_openat2), map
// calls (2-entry array of u64: key 0 counts entries, key 1 exits).
//
//go:embed fentry_counter.o
var FentryCounter []byte

// LSMCounter is lsm_counter.o: program lsm_file_open on lsm/file_open
// (allows every open), map counts (1-entry array of u64) counting opens.
//
//go:embed lsm_counter.o
var LSMCounter []byte
