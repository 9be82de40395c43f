package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// verdict matches go test -v's verdict on a test (indented for a
// subtest).
var verdict = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(`)

// outcome is one test's verdict and, for a skip or a failure, its first
// logged line; sub says it is a subtest.
type outcome struct {
	test, verdict, why string
	sub                bool
}

// report prints each kernel's outcome, per binary and per test (every
// failure and skip, with why; the count of passes), writes every test's
// verdict to table, a line each (kernel, binary, test, verdict, why;
// tab-separated), and reports whether everything passed.
func report(w, table io.Writer, runs []*kernelRun) bool {
	ok := true
	for _, k := range runs {
		fmt.Fprintf(w, "\n=== kernel %s (%s; failed attempts: %d)\n", k.release, k.elapsed.Round(1e9), len(k.tries))
		for _, t := range k.tests {
			r, ran := k.results[t.name]
			if !ran {
				fmt.Fprintf(w, "%s %s: NOT RUN: %s\n", k.release, t.name, strings.Join(k.tries, "; "))
				ok = false
				continue
			}
			if !reportBinary(w, table, k.release, r) {
				ok = false
			}
		}
	}
	return ok
}

// reportBinary prints one binary's outcome on kernel release.
func reportBinary(w, table io.Writer, release string, r result) bool {
	file := filepath.Join(r.dir, r.Name+".out")
	outs, err := parseOutput(file)
	if err != nil {
		fmt.Fprintf(w, "%s %s: %v\n", release, r.Name, err)
		return false
	}
	count := map[string]int{}
	for _, o := range outs {
		fmt.Fprintf(table, "%s\t%s\t%s\t%s\t%s\n", release, r.Name, o.test, o.verdict, o.why)
		if o.sub {
			continue // in the table only: its test's verdict says it
		}
		count[o.verdict]++
		if o.verdict != "PASS" {
			fmt.Fprintf(w, "%s %s %s %s: %s\n", release, r.Name, o.test, o.verdict, o.why)
		}
	}
	status := "ok"
	if r.ExitCode != 0 {
		status = fmt.Sprintf("FAILED (exit %d%s; output %s)", r.ExitCode, prefixed(": ", r.Error), file)
	}
	fmt.Fprintf(w, "%s %s: %s in %.0fs: %d passed, %d failed, %d skipped\n",
		release, r.Name, status, r.Seconds, count["PASS"], count["FAIL"], count["SKIP"])
	return r.ExitCode == 0
}

// parseOutput reads the tests' verdicts from go test -v output (a
// subtest's after its test's, as go test prints them), each top-level skip or failure with the
// last line logged by the first of its (sub)tests that failed or skipped:
// a Fatal's or a Skip's message (go test -v does not tell a failure's
// lines from other logs).
func parseOutput(file string) ([]outcome, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var outs []outcome
	lastLog := map[string]string{} // by test, its last logged line
	why := map[string]string{}     // by top-level test
	running := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "=== RUN   "); ok {
			running = name
			continue
		}
		if m := verdict.FindStringSubmatch(line); m != nil {
			top, _, sub := strings.Cut(m[2], "/")
			outs = append(outs, outcome{test: m[2], verdict: m[1], sub: sub})
			if m[1] != "PASS" && why[top] == "" {
				why[top] = lastLog[m[2]]
			}
			continue
		}
		if logLine.MatchString(line) {
			lastLog[running] = strings.TrimSpace(line)
		}
	}
	for i := range outs {
		if outs[i].verdict != "PASS" && !outs[i].sub {
			outs[i].why = why[outs[i].test]
		}
	}
	return outs, sc.Err()
}

// logLine matches a line a test logged: "    file_test.go:12: text".
var logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: `)

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
