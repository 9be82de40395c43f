package testkernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Main runs the tests of a package and then fails the run if BPF objects
// or perf events opened during the tests are still open: every fd the
// code under test creates must be closed.
//
//	func TestMain(m *testing.M) { testkernel.Main(m) }
func Main(m *testing.M) {
	// Before any test: cilium/ebpf remembers a missing tracefs for the
	// life of the process. A failure here is Require's to report.
	if os.Geteuid() == 0 {
		_ = pins.EnsureTracefs()
	}
	before := kernelFDs()
	code := m.Run()
	if leaked := leakedFDs(before, kernelFDs()); code == 0 && len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: leaked file descriptors: %s\n", strings.Join(leaked, ", "))
		code = 1
	}
	os.Exit(code)
}

// kernelFDs maps each open fd that refers to a BPF object or perf event
// to its description.
func kernelFDs() map[string]string {
	paths, _ := filepath.Glob("/proc/self/fd/*")
	fds := make(map[string]string)
	for _, p := range paths {
		target, err := os.Readlink(p)
		if err == nil && isKernelObject(target) {
			fds[filepath.Base(p)] = target
		}
	}
	return fds
}

func isKernelObject(target string) bool {
	return strings.HasPrefix(target, "anon_inode:bpf") ||
		strings.HasPrefix(target, "anon_inode:[perf_event]") ||
		strings.HasPrefix(target, "anon_inode:btf")
}

func leakedFDs(before, after map[string]string) []string {
	var out []string
	for fd, target := range after {
		if before[fd] != target {
			out = append(out, fd+" -> "+target)
		}
	}
	return out
}
