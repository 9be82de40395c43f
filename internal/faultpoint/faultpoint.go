package faultpoint

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Env names the step to kill the process at: "<step>" or "<step>#<nth>".
const Env = "BPFLEET_KILL_AT"

var (
	armed  bool
	target string
	nth    int64
	hits   atomic.Int64
)

func init() { armed, target, nth = parse(os.Getenv(Env)) }

// Point marks a step. The process dies here when Env names the step and
// this is its nth occurrence.
func Point(name string) {
	if armed {
		hit(name)
	}
}

// hit kills the process at the nth hit of the target. A signal a process
// sends itself is delivered before kill(2) returns: nothing after runs.
func hit(name string) {
	if name == target && hits.Add(1) == nth {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

// parse reads Env's value: armed, the step, and its occurrence (1 unless
// a positive #<nth> follows).
func parse(v string) (bool, string, int64) {
	if v == "" {
		return false, "", 0
	}
	step, occ, _ := strings.Cut(v, "#")
	n, err := strconv.ParseInt(occ, 10, 64)
	if err != nil || n < 1 {
		n = 1
	}
	return true, step, n
}
