package bpf

import _ "embed"

// PerCPUCounter is percpu_counter.o: program count_getppid on
// syscalls/sys_enter_getppid counts the calls of each process (tgid) in
// per-CPU maps: stats (per-CPU hash, __u32 tgid -> struct stats { __u64
// calls; __u64 weighted; }) and seen (LRU per-CPU hash, __u32 tgid ->
// __u64 calls); each call adds to weighted the value its CPU holds in
// weight (per-CPU array of one __u32). Constant filter_pid (__u32): 0
// counts every process, else only that tgid.
//
//go:embed percpu_counter.o
var PerCPUCounter []byte
