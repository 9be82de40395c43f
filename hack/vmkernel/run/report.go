package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bpfleet/bpfleet/hack/vmkernel/vmspec"
)

// topLevel matches go test -v's verdict on a top-level test.
var topLevel = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(`)

// outcome is one test's verdict and, for a skip or a failure, its first
// logged line.
type outcome struct {
	test, verdict, why string
}

// report prints each kernel's outcome, per binary and per test (every
// failure and skip, with why; the count of passes), and reports whether
// everything passed.
func report(w io.Writer, runs []*kernelRun) bool {
	ok := true
	for _, k := range runs {
		fmt.Fprintf(w, "\n=== kernel %s (%s, %d attempt(s))\n", k.release, k.elapsed.Round(1e9), len(k.tries)+boolInt(k.done != nil))
		if k.done == nil {
			fmt.Fprintf(w, "NOT RUN: %s\n", strings.Join(k.tries, "; "))
			ok = false
			continue
		}
		for _, r := range k.done.Results {
			if !reportBinary(w, k, r) {
				ok = false
			}
		}
	}
	return ok
}

// reportBinary prints one binary's outcome on kernel k.
func reportBinary(w io.Writer, k *kernelRun, r vmspec.Result) bool {
	file := filepath.Join(k.results, r.Name+".out")
	outs, err := parseOutput(file)
	if err != nil {
		fmt.Fprintf(w, "%s %s: %v\n", k.release, r.Name, err)
		return false
	}
	count := map[string]int{}
	for _, o := range outs {
		count[o.verdict]++
		if o.verdict != "PASS" {
			fmt.Fprintf(w, "%s %s %s %s: %s\n", k.release, r.Name, o.test, o.verdict, o.why)
		}
	}
	status := "ok"
	if r.ExitCode != 0 {
		status = fmt.Sprintf("FAILED (exit %d%s; output %s)", r.ExitCode, prefixed(": ", r.Error), file)
	}
	fmt.Fprintf(w, "%s %s: %s in %.0fs: %d passed, %d failed, %d skipped\n",
		k.release, r.Name, status, r.Seconds, count["PASS"], count["FAIL"], count["SKIP"])
	return r.ExitCode == 0
}

// parseOutput reads the top-level tests' verdicts from go test -v output.
func parseOutput(file string) ([]outcome, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var outs []outcome
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := topLevel.FindStringSubmatch(line); m != nil {
			outs = append(outs, outcome{test: m[2], verdict: m[1]})
			continue
		}
		// The first indented line after a skip or failure says why.
		if n := len(outs); n > 0 && outs[n-1].verdict != "PASS" && outs[n-1].why == "" && strings.HasPrefix(line, "    ") {
			outs[n-1].why = strings.TrimSpace(line)
		}
	}
	return outs, sc.Err()
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
