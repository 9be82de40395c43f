// Package probe finds what the node's kernel can run: its release, whether
// it has BTF, and, per hook bpfleet attaches to, whether programs attach
// there and, if not, why.
//
// Each hook says how it is checked, in its own file of package attach
// (Hook.Probe): a feature probe is not always enough (the kernel says it
// has Kprobe programs without CONFIG_KPROBES, and loads of fentry programs
// can fail with EPERM where the program type exists), so a hook is tried
// the way the agent will use it, with a minimal program. Kernel runs every
// registered hook's probe once at agent start, in well under a
// second; every file descriptor it opens is closed and nothing stays in
// the kernel. A probe that fails without saying anything of the kernel
// (out of memory, busy: attach.Inconclusive) leaves its hook Unknown: not
// published, so no running program is taken off the node for it, and
// probed again by Retry.
package probe
