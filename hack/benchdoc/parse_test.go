package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []*Package
	}{{
		name: "results with the procs suffix, custom metrics, sub-benchmarks",
		in: "command: go test -bench . ./x/\npkg: m/x\ncpu: Some CPU\n" +
			"BenchmarkA-2   \t      20\t  45123456 ns/op\t  41.30 ready-ms/op\t 1.080 raw-ms/op\t 38.24 ready/raw\n" +
			"BenchmarkB/entries=1000-2 \t 5\t 1000 ns/op\t 3912 entries/s\n" +
			"PASS\nok  \tm/x\t12.3s\n",
		want: []*Package{{Path: "m/x", Results: []Result{
			{Name: "BenchmarkA", Iters: 20, Metrics: []Metric{{45123456, "ns/op"}, {41.3, "ready-ms/op"}, {1.08, "raw-ms/op"}, {38.24, "ready/raw"}}},
			{Name: "BenchmarkB/entries=1000", Iters: 5, Metrics: []Metric{{1000, "ns/op"}, {3912, "entries/s"}}},
		}}},
	}, {
		name: "logs between a benchmark's name and its results",
		in: "pkg: m/x\nBenchmarkScale-2 \tI1206 10:05:00 some log\nanother log line\n" +
			"       1\t52000000000 ns/op\t 51.40 converge-s\n",
		want: []*Package{{Path: "m/x", Results: []Result{
			{Name: "BenchmarkScale", Iters: 1, Metrics: []Metric{{52e9, "ns/op"}, {51.4, "converge-s"}}},
		}}},
	}, {
		name: "a failed benchmark and package",
		in: "pkg: m/x\nBenchmarkOK-2 \t 3\t 10 ns/op\nBenchmarkBad-2   \t--- FAIL: BenchmarkBad-2\n" +
			"    bad_test.go:9: boom\nFAIL\nFAIL\tm/x\t1.0s\nFAIL\n",
		want: []*Package{{Path: "m/x", Failed: true, Results: []Result{
			{Name: "BenchmarkOK", Iters: 3, Metrics: []Metric{{10, "ns/op"}}},
			{Name: "BenchmarkBad", Failed: true, Reason: "bad_test.go:9: boom"},
		}}},
	}, {
		name: "failures at once, before the header that names the package",
		in: "--- FAIL: BenchmarkIdle\n    idle_test.go:114: idle-0 never became Ready\n    more\n" +
			"--- FAIL: BenchmarkCreate\n    bench_test.go:30: warm never became Ready\nFAIL\nexit status 1\n" +
			"FAIL\tm/e2e\t382.7s\nFAIL\n",
		want: []*Package{{Path: "m/e2e", Failed: true, Results: []Result{
			{Name: "BenchmarkIdle", Failed: true, Reason: "idle_test.go:114: idle-0 never became Ready"},
			{Name: "BenchmarkCreate", Failed: true, Reason: "bench_test.go:30: warm never became Ready"},
		}}},
	}, {
		name: "a failure after successes, then the next package",
		in: "pkg: m/x\nBenchmarkA-2 \t 1\t 5 ns/op\n--- FAIL: BenchmarkB\n    b.go:1: no\nFAIL\tm/x\t1s\n" +
			"pkg: m/y\nBenchmarkC-2 \t 1\t 7 ns/op\n    --- BENCH: BenchmarkC-2\n        c.go:3: log\nok  \tm/y\t1s\n",
		want: []*Package{
			{Path: "m/x", Failed: true, Results: []Result{
				{Name: "BenchmarkA", Iters: 1, Metrics: []Metric{{5, "ns/op"}}},
				{Name: "BenchmarkB", Failed: true, Reason: "b.go:1: no"},
			}},
			{Path: "m/y", Results: []Result{{Name: "BenchmarkC", Iters: 1, Metrics: []Metric{{7, "ns/op"}}}}},
		},
	}, {
		name: "GOMAXPROCS=1: names kept whole, even one ending in a number",
		in:   "pkg: m/x\nBenchmarkW/batch-100 \t 3\t 10 ns/op\nBenchmarkV \t 3\t 12 ns/op\n",
		want: []*Package{{Path: "m/x", Results: []Result{
			{Name: "BenchmarkW/batch-100", Iters: 3, Metrics: []Metric{{10, "ns/op"}}},
			{Name: "BenchmarkV", Iters: 3, Metrics: []Metric{{12, "ns/op"}}},
		}}},
	}, {
		name: "a package that did not build",
		in:   "# m/x\nx/a_test.go:3:1: syntax error\nFAIL\tm/x [build failed]\nFAIL\n",
		want: []*Package{{Path: "m/x", Failed: true}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRun("01.txt", strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Packages, tc.want) {
				t.Errorf("packages:\n got %s\nwant %s", dump(got.Packages), dump(tc.want))
			}
		})
	}
}

func TestParseRunCommand(t *testing.T) {
	got, err := parseRun("01.txt", strings.NewReader("command: go test -bench . ./x/\npkg: m/x\ncommand: not this one\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Command != "go test -bench . ./x/" || got.File != "01.txt" {
		t.Errorf("command %q, file %q", got.Command, got.File)
	}
}

func TestParseMeta(t *testing.T) {
	got, err := parseMeta(strings.NewReader("date: 2026-12-06T10:04:05Z\ncpu: AMD EPYC 7B13: rev 1\nnot a pair\nnote: short run\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Meta{"date": "2026-12-06T10:04:05Z", "cpu": "AMD EPYC 7B13: rev 1", "note": "short run"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func dump(ps []*Package) string {
	var sb strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&sb, "\n  %+v", *p)
	}
	return sb.String()
}
