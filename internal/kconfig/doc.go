// Package kconfig makes cilium/ebpf load the .kconfig externs of objects
// written for libbpf as libbpf does.
//
// libbpf objects read kernel facts through externs in the virtual .kconfig
// section: LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER,
// LINUX_HAS_BPF_COOKIE and CONFIG_* options, often declared __weak ("0 if
// the kernel lacks it"). cilium/ebpf v0.22 refuses a __weak one when it
// parses the object, a LINUX_KERNEL_VERSION declared through a typedef
// (u32), and any CONFIG_* option the kernel lacks. Patch turns the __weak
// externs into plain ones so the object parses, remembering which were
// weak; Resolve then sets every extern from the running kernel with
// libbpf's rules (a __weak one the kernel lacks reads 0; a plain one is
// an error naming it) into a frozen .kconfig map of the CollectionSpec,
// which the programs read in place of cilium/ebpf's.
//
// LINUX_KERNEL_VERSION is the upstream version the kernel is built from,
// as libbpf reads it: Ubuntu's /proc/version_signature, Debian's "Debian
// a.b.c" in uname -v, else the release. A value that does not fit in its
// extern's size (CONFIG_HZ=1000 in a u8) is an error naming it, as
// libbpf's range check makes it, never a truncated value.
//
// CONFIG_* options are read from /boot/config-<release> or, without it,
// /proc/config.gz, as libbpf does, and only from the lines that set one:
// an option listed as "# CONFIG_X is not set" is absent (0 if __weak,
// else an error). An agent in a pod needs the host's /boot mounted, or a
// kernel built with CONFIG_IKCONFIG_PROC. Without either, Resolve fails
// with an error wrapping ErrNoConfig.
package kconfig
