package bpf

import _ "embed"

// TracepointCounter is tracepoint_counter.o: program count_openat on
// syscalls/sys_enter_openat, maps counts (hash, u32 tgid -> u64) and
// total (1-entry array of u64), constants filter_pid (u32) and
// increment (u64).
//
//go:embed tracepoint_counter.o
var TracepointCounter []byte

// Reject is reject.o: tracepoint program rejected, which the verifier
// refuses because it reads past a map value.
//
//go:embed reject.o
var Reject []byte
