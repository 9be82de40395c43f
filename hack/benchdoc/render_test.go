package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/section.golden.md")

// The section rendered from testdata/raw (two commands: e2e figures with
// raw and baseline metrics, interleaved logs; the maps bench with a failed
// benchmark and package) is testdata/section.golden.md.
func TestRenderGolden(t *testing.T) {
	meta, runs, err := readRaw("testdata/raw")
	if err != nil {
		t.Fatal(err)
	}
	meta["raw"] = ".bench/20261206T100405Z/"
	got := render(meta, runs, "github.com/bpfleet/bpfleet")
	golden := filepath.Join("testdata", "section.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("rendered section differs from %s (go test ./hack/benchdoc -update rewrites it):\n%s", golden, got)
	}
}

func TestRenderValues(t *testing.T) {
	for _, tc := range []struct {
		m    Metric
		want string
	}{
		{Metric{45123456, "ns/op"}, "45.1 ms"},
		{Metric{1.4e11, "ns/op"}, "140 s"},
		{Metric{83000, "ns/op"}, "83.0 µs"},
		{Metric{950, "ns/op"}, "950 ns"},
		{Metric{1074.4, "ready-ms/op"}, "1,074"},
		{Metric{3333333, "entries/s"}, "3,333,333"},
		{Metric{0.1200, "operator-0-cpu-%"}, "0.12"},
		{Metric{0.0832, "apply-ms/op"}, "0.0832"},
		{Metric{0, "x"}, "0"},
		{Metric{-1234, "x"}, "-1,234"},
	} {
		if got := value(tc.m); got != tc.want {
			t.Errorf("value(%v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// run on a doc without a section adds it and keeps every line of the doc;
// run again on another raw folder replaces it whole.
func TestRunKeepsTheRestOfTheDoc(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	before := "# Benchmarks\n\nintro\n\n## Hand-written\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
	if err := os.WriteFile(doc, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("testdata/raw", doc); err != nil {
		t.Fatal(err)
	}
	first := read(t, doc)
	if !strings.HasPrefix(first, "# Benchmarks\n\nintro\n\n"+beginMarker) || !strings.HasSuffix(first, endMarker+"\n\n## Hand-written\n\n| a | b |\n|---|---|\n| 1 | 2 |\n") {
		t.Fatalf("section not inserted before the first heading, or the doc changed:\n%s", first)
	}
	for _, want := range []string{"`238dc1949a1b`, clean tree", "AMD EPYC 7B13, 2 CPUs; kernel 6.18.0; go1.26.8", "| `ready-ms/op` | 41.3 | 1.08 `raw-ms/op` | 38.2× |", "### `./test/e2e/`"} {
		if !strings.Contains(first, want) {
			t.Errorf("section lacks %q:\n%s", want, first)
		}
	}

	other := t.TempDir()
	copyFile(t, "testdata/raw/01.txt", filepath.Join(other, "01.txt"))
	if err := os.WriteFile(filepath.Join(other, "meta.txt"), []byte("commit: abc\ndirty: 2\nnote: short run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(other, doc); err != nil {
		t.Fatal(err)
	}
	second := read(t, doc)
	if strings.Count(second, beginMarker) != 1 || strings.Contains(second, "bpfman-agent/maps") || !strings.Contains(second, "> **short run**") ||
		!strings.Contains(second, "`abc` **with uncommitted changes** (2 files") || !strings.HasSuffix(second, endMarker+"\n\n## Hand-written\n\n| a | b |\n|---|---|\n| 1 | 2 |\n") {
		t.Errorf("second run did not replace the section whole:\n%s", second)
	}
}

func TestRunWithoutRawOutput(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := run(t.TempDir(), doc); err == nil || !strings.Contains(err.Error(), "no raw output") {
		t.Errorf("run on an empty folder: %v, want an error saying there is no raw output", err)
	}
	if _, err := os.Stat(doc); !os.IsNotExist(err) {
		t.Errorf("the doc was written without raw output (%v)", err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, []byte(read(t, from)), 0o644); err != nil {
		t.Fatal(err)
	}
}
