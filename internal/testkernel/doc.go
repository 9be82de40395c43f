// Package testkernel is the one gate for tests that need the real kernel:
// root, a working bpf() syscall and a private BPF filesystem.
//
// Such a test must never pass silently without the kernel: Require fails
// the test unless the environment is there, or skips it, loudly, when
// BPFLEET_SKIP_KERNEL=1 is set.
package testkernel
