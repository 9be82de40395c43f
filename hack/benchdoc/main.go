// Command benchdoc writes the results of a run of `make bench` into the
// generated section of docs/benchmarks.md, so the figures there always
// say which commit, which machine and which day they measured.
//
// It reads a folder of raw output, as hack/bench.sh leaves it under
// .bench/: meta.txt ("key: value" lines: date, commit, dirty, cpu, cpus,
// kernel, go, and an optional note), and one file per command, its first
// line "command: <the command>", then what `go test -bench` printed. It
// renders every benchmark and metric it finds, a table per package, each
// figure beside its baseline measured in the same run (see rows for the
// naming convention that pairs them), and replaces the text between the
// section's markers in the doc, leaving the rest as it is; a doc without
// the markers gets the section before its first "## " heading.
//
//	go run ./hack/benchdoc -raw .bench/latest -doc docs/benchmarks.md
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	raw := flag.String("raw", ".bench/latest", "folder of raw benchmark output (hack/bench.sh)")
	doc := flag.String("doc", "docs/benchmarks.md", "Markdown file whose generated section is replaced")
	flag.Parse()
	if err := run(*raw, *doc); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
}

// run renders the raw output in dir into the doc at path.
func run(dir, path string) error {
	meta, runs, err := readRaw(dir)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		meta["raw"] = filepath.ToSlash(real) + "/"
		if rel, err := filepath.Rel(".", real); err == nil && !strings.HasPrefix(rel, "..") {
			meta["raw"] = filepath.ToSlash(rel) + "/"
		}
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	updated, err := replaceSection(string(old), render(meta, runs, modulePath()))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(updated), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readRaw reads dir's meta.txt and every other *.txt, in name order.
func readRaw(dir string) (Meta, []*Run, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(files)
	meta := Meta{}
	var runs []*Run
	for _, f := range files {
		if err := readFile(f, &meta, &runs); err != nil {
			return nil, nil, err
		}
	}
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("no raw output in %s (run make bench first)", dir)
	}
	return meta, runs, nil
}

// readFile parses one raw file into meta (meta.txt) or a run.
func readFile(name string, meta *Meta, runs *[]*Run) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("read raw output: %w", err)
	}
	defer f.Close()
	if filepath.Base(name) == "meta.txt" {
		*meta, err = parseMeta(f)
		return err
	}
	r, err := parseRun(filepath.Base(name), f)
	if err != nil {
		return err
	}
	*runs = append(*runs, r)
	return nil
}

// modulePath is the path of the module around the working directory,
// from its go.mod, or "" when there is none.
func modulePath() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			return moduleLine(string(data))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// moduleLine is the path a go.mod's module line names.
func moduleLine(gomod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	return ""
}
