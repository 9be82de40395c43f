package faultpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Env names the step to kill the process at: "<step>" or "<step>#<nth>".
const Env = "BPFLEET_KILL_AT"

// TraceEnv names a file to which every Point appends its name, one a
// line: the steps a run passes, in order, for a test to kill at each.
const TraceEnv = "BPFLEET_FAULT_TRACE"

var (
	armed  bool
	target string
	nth    int64
	hits   atomic.Int64
	trace  *os.File
)

func init() {
	armed, target, nth = parse(os.Getenv(Env))
	if path := os.Getenv(TraceEnv); path != "" {
		// A trace that cannot be opened is a broken test setup: say so.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			panic(fmt.Sprintf("%s: %v", TraceEnv, err))
		}
		armed, trace = true, f
	}
}

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
	if trace != nil {
		_, _ = trace.WriteString(name + "\n")
	}
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
