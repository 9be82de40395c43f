package testkernel

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// SkipEnv is the switch that turns kernel tests into skips.
const SkipEnv = "BPFLEET_SKIP_KERNEL"

// Require fails t unless the process is root and can use bpf(), and
// mounts tracefs where the host has none, as the agent does (a fresh
// machine has none; tests attach tracepoints without an agent). With
// BPFLEET_SKIP_KERNEL=1 it skips t instead.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Getenv(SkipEnv) == "1" {
		tb.Skip("kernel test skipped by " + SkipEnv + "=1")
	}
	if os.Geteuid() != 0 {
		tb.Fatal("kernel test needs root and a working bpf() syscall: run as root " +
			"(or set " + SkipEnv + "=1 to skip kernel tests)")
	}
	if err := probeBPF(); err != nil {
		tb.Fatalf("kernel test needs root and a working bpf() syscall: %v "+
			"(set "+SkipEnv+"=1 to skip kernel tests)", err)
	}
	if err := pins.EnsureTracefs(); err != nil {
		tb.Fatalf("kernel test: %v", err)
	}
}

func probeBPF() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return err
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return err
	}
	return m.Close()
}

// TempBPFFS mounts a private BPF filesystem in a temporary directory and
// unmounts it when the test ends. Call Require first.
func TempBPFFS(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := unix.Mount("bpffs", dir, "bpf", 0, ""); err != nil {
		tb.Fatalf("mount bpffs at %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			tb.Errorf("unmount bpffs at %s: %v", dir, err)
		}
	})
	return dir
}
