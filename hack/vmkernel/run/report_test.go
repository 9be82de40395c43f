package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestParseOutput reads verdicts as go test -v prints them: a test's log
// before its verdict, a parent's verdict before its subtests'; a failure
// is told by its last line (a Fatal's).
func TestParseOutput(t *testing.T) {
	out := `=== RUN   TestA
--- PASS: TestA (0.00s)
=== RUN   TestB
=== RUN   TestB/ok
    b_test.go:10: fine
=== RUN   TestB/bad
    b_test.go:19: note: this kernel has kprobes
    b_test.go:20: err = x, want y
--- FAIL: TestB (0.01s)
    --- PASS: TestB/ok (0.00s)
    --- FAIL: TestB/bad (0.00s)
=== RUN   TestC
    c_test.go:5: no such thing here
--- SKIP: TestC (0.00s)
FAIL
`
	file := filepath.Join(t.TempDir(), "x.out")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := parseOutput(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []outcome{
		{"TestA", "PASS", "", false},
		{"TestB", "FAIL", "b_test.go:20: err = x, want y", false},
		{"TestB/ok", "PASS", "", true},
		{"TestB/bad", "FAIL", "", true},
		{"TestC", "SKIP", "c_test.go:5: no such thing here", false},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
