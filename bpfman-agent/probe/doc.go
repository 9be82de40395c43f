// Package probe finds what the node's kernel can run: its release, whether
// it has BTF, and, per hook bpfleet attaches to, whether programs attach
// there and, if not, why.
//
// A feature probe is not always enough: the kernel says it has Kprobe
// programs without CONFIG_KPROBES, and loads of fentry programs can fail
// with EPERM where the program type exists. So each hook is checked the
// way the agent will use it, with a minimal program: loads, attach
// attempts that the kernel refuses before they touch anything (an
// interface index that does not exist), or a real attach to a function
// nothing calls. Kernel runs it once at agent start, in well under a
// second; every file descriptor it opens is closed and nothing stays in
// the kernel.
package probe
