package main

import (
	"reflect"
	"testing"
)

func TestRowCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd, name, pkg, want string
	}{{
		cmd:  `go test -run '^$' -bench . -benchtime 20x -timeout 60m ./test/e2e/`,
		name: "BenchmarkCreateToReady", pkg: "m/test/e2e",
		want: `go test -run '^$' -bench '^BenchmarkCreateToReady$' -benchtime 20x -timeout 60m ./test/e2e/`,
	}, {
		cmd:  `go test -run "^$" -bench='CreateToReady$|UpdateToLive' -benchtime 1x ./test/e2e/`,
		name: "BenchmarkUpdateToLive", pkg: "m/test/e2e",
		want: `go test -run '^$' '-bench=^BenchmarkUpdateToLive$' -benchtime 1x ./test/e2e/`,
	}, {
		cmd:  `go test -run '^$' -bench . -benchtime 2s ./bpfman-agent/maps/ ./internal/cosign/`,
		name: "BenchmarkApply/batch/1.5", pkg: "m/bpfman-agent/maps",
		want: `go test -run '^$' -bench '^BenchmarkApply$/^batch$/^1\.5$' -benchtime 2s ./bpfman-agent/maps/`,
	}, {
		cmd: "", name: "BenchmarkA", pkg: "m/x", want: "",
	}} {
		if got := rowCommand(tc.cmd, tc.name, tc.pkg, "m"); got != tc.want {
			t.Errorf("rowCommand(%q, %q):\n got %s\nwant %s", tc.cmd, tc.name, got, tc.want)
		}
	}
}

func TestShellSplit(t *testing.T) {
	got := shellSplit(`go  test -run '^$' -bench "a\"b c" x\ y 'it'\''s'`)
	want := []string{"go", "test", "-run", "^$", "-bench", `a"b c`, "x y", "it's"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, w := range want {
		if back := shellSplit(shellQuote(w)); len(back) != 1 || back[0] != w {
			t.Errorf("shellQuote(%q) = %s splits back to %q", w, shellQuote(w), back)
		}
	}
}
