package testkernel

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TargetFunction is the function TargetBinary's program calls.
const TargetFunction = "bpfleet_target"

const targetSource = `#include <stdlib.h>

volatile int sink;

__attribute__((noinline, used, visibility("default")))
int bpfleet_target(int i)
{
	sink += i;
	return sink;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;

	for (int i = 0; i < n; i++)
		bpfleet_target(i);
	return 0;
}
`

// TargetBinary compiles, with gcc (or clang), a program whose function
// bpfleet_target (TargetFunction) is a real, exported, non-inlined symbol:
// a uprobe target. It returns the binary's absolute path, in tb's
// temporary directory, and run, which executes the binary so that it calls
// the function exactly n times.
func TargetBinary(tb testing.TB) (path string, run func(n int)) {
	tb.Helper()
	dir := tb.TempDir()
	src := filepath.Join(dir, "target.c")
	if err := os.WriteFile(src, []byte(targetSource), 0o600); err != nil {
		tb.Fatal(err)
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		cc = "clang"
	}
	path = filepath.Join(dir, "target")
	if out, err := exec.Command(cc, "-O2", "-o", path, src).CombinedOutput(); err != nil {
		tb.Fatalf("compile uprobe target with %s (gcc or clang, and libc6-dev): %v\n%s", cc, err, out)
	}
	return path, func(n int) {
		tb.Helper()
		if out, err := exec.Command(path, strconv.Itoa(n)).CombinedOutput(); err != nil {
			tb.Fatalf("run %s %d: %v\n%s", path, n, err, out)
		}
	}
}
