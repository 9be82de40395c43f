package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// render writes the generated section (markers included) from one run of
// make bench: meta says when and where, runs hold each command's results.
// module is the Go module's path, trimmed from package paths.
func render(meta Meta, runs []*Run, module string) string {
	var sb strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	w("%s\n## Latest `make bench` (generated)\n\n", beginMarker)
	if note := meta["note"]; note != "" {
		w("> **%s**\n\n", note)
	}
	w("- date: %s\n- commit: %s\n- machine: %s\n\n", date(meta["date"]), commit(meta), machine(meta))
	w("%s\n\n", howMade(meta["raw"]))
	writePairs(&sb, runs)
	for _, path := range packagePaths(runs) {
		writePackage(&sb, runs, path, module, meta["raw"])
	}
	w("%s\n", endMarker)
	return sb.String()
}

// howMade is the paragraph that says how the section is made.
func howMade(raw string) string {
	if raw == "" {
		raw = ".bench/<date>/"
	}
	return "Written by `make bench` (`hack/bench.sh`): it runs each command below, keeps " +
		"their raw output in `" + raw + "` (ignored by git; `.bench/latest` is the last run), and " +
		"`hack/benchdoc` renders this section from it, between the markers, leaving the rest of " +
		"this file as it is; `make bench-doc` renders it again from `.bench/latest` without " +
		"running anything. Each figure stands beside its baseline measured in the same run, " +
		"when the benchmark reports one: a ratio metric `a/b` pairs the metric `a-<unit>` with " +
		"`b-…-<unit>` (otherwise a metric named `raw-`, `baseline-`, `kernel-` or `bare-` is " +
		"the baseline of the others of its unit, and the ratio is computed). The machine may " +
		"have been shared: compare within a run."
}

func date(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return orUnknown(s)
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func commit(meta Meta) string {
	c := "`" + orUnknown(meta["commit"]) + "`"
	switch d := meta["dirty"]; d {
	case "":
		return c
	case "0":
		return c + ", clean tree"
	default:
		return c + fmt.Sprintf(" **with uncommitted changes** (%s files besides docs/benchmarks.md)", d)
	}
}

func machine(meta Meta) string {
	return fmt.Sprintf("%s, %s CPUs; kernel %s; %s", orUnknown(meta["cpu"]), orUnknown(meta["cpus"]),
		orUnknown(meta["kernel"]), orUnknown(meta["go"]))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writePairs writes which metric is the baseline of which in this run.
func writePairs(sb *strings.Builder, runs []*Run) {
	type pair struct{ figure, base, by string }
	var order []pair
	benches := map[pair][]string{}
	for _, run := range runs {
		for _, p := range run.Packages {
			for _, res := range p.Results {
				for _, r := range rows(res.Metrics) {
					if r.Base == nil {
						continue
					}
					k := pair{r.Unit, r.Base.Unit, r.By}
					if _, seen := benches[k]; !seen {
						order = append(order, k)
					}
					benches[k] = appendNew(benches[k], topName(res.Name))
				}
			}
		}
	}
	if len(order) == 0 {
		sb.WriteString("No benchmark of this run reported a baseline.\n\n")
		return
	}
	sb.WriteString("Baselines in this run:\n\n| figure | baseline | ratio | benchmark |\n|---|---|---|---|\n")
	for _, k := range order {
		by := "computed"
		if k.by != "" {
			by = "`" + k.by + "`"
		}
		fmt.Fprintf(sb, "| `%s` | `%s` | %s | %s |\n", k.figure, k.base, by, strings.Join(benches[k], ", "))
	}
	sb.WriteString("\n")
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// topName is a benchmark's name without its sub-benchmarks.
func topName(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}

// packagePaths lists the runs' packages, each once, in order.
func packagePaths(runs []*Run) []string {
	var out []string
	for _, run := range runs {
		for _, p := range run.Packages {
			out = appendNew(out, p.Path)
		}
	}
	return out
}

// writePackage writes one package's table, from every run that measured
// it; raw is the folder of the raw output, named when a run failed.
func writePackage(sb *strings.Builder, runs []*Run, path, module, raw string) {
	fmt.Fprintf(sb, "### `%s`\n\n", relPackage(path, module))
	sb.WriteString("| benchmark | iterations | metric | value | baseline | ratio | to reproduce |\n")
	sb.WriteString("|---|--:|---|--:|---|--:|---|\n")
	var failed []string
	for _, run := range runs {
		for _, p := range run.Packages {
			if p.Path != path {
				continue
			}
			for _, res := range p.Results {
				writeResult(sb, res, rowCommand(run.Command, res.Name, path, module))
			}
			if p.Failed || len(p.Results) == 0 {
				failed = append(failed, "`"+raw+run.File+"`")
			}
		}
	}
	sb.WriteString("\n")
	if len(failed) > 0 {
		fmt.Fprintf(sb, "**This package's run failed or measured nothing**: see the raw output (%s).\n\n",
			strings.Join(failed, ", "))
	}
}

// writeResult writes a result's rows; its name, iterations and command
// stand in the first.
func writeResult(sb *strings.Builder, res Result, cmd string) {
	head := fmt.Sprintf("| `%s` | %d |", res.Name, res.Iters)
	tail := fmt.Sprintf(" `%s` |\n", strings.ReplaceAll(cmd, "|", `\|`))
	if res.Failed {
		fmt.Fprintf(sb, "| `%s` | – | **failed** | %s | | |%s", res.Name, cell(res.Reason, 100), tail)
		return
	}
	for i, r := range rows(res.Metrics) {
		if i > 0 {
			head, tail = "| | |", " |\n"
		}
		base, ratio := "", ""
		if r.Base != nil {
			base = fmt.Sprintf("%s `%s`", value(*r.Base), r.Base.Unit)
			ratio = number(r.Ratio) + "×"
		}
		fmt.Fprintf(sb, "%s `%s` | %s | %s | %s |%s", head, r.Unit, value(r.Metric), base, ratio, tail)
	}
}

// cell is s cut to at most n runes, fit for a table cell.
func cell(s string, n int) string {
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// value formats a metric's value; ns/op reads as a duration.
func value(m Metric) string {
	if m.Unit != "ns/op" {
		return number(m.Value)
	}
	for _, u := range []struct {
		name  string
		scale float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}} {
		if m.Value >= u.scale {
			return number(m.Value/u.scale) + " " + u.name
		}
	}
	return number(m.Value) + " ns"
}

// number formats v with three significant digits (all of its integer
// part from 100 on, with thousands separators).
func number(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return thousands(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func thousands(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	for i := len(digits) - 3; i > 0; i -= 3 {
		digits = digits[:i] + "," + digits[i:]
	}
	return sign + digits
}

// relPackage is a package's directory as a go command takes it.
func relPackage(path, module string) string {
	if path == "" {
		return "(package not named in the output)"
	}
	if path == module {
		return "./"
	}
	if rel, ok := strings.CutPrefix(path, module+"/"); ok && module != "" {
		return "./" + rel + "/"
	}
	return path
}
