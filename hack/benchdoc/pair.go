package main

import "strings"

// A Row is one figure of a result: a metric, and its baseline measured in
// the same run when the benchmark reports one.
type Row struct {
	Metric
	Base  *Metric // nil: no baseline
	Ratio float64 // Metric / Base, as reported or computed
	By    string  // the ratio metric's unit, or "" when computed
}

// baselineNames name a baseline metric without a ratio metric beside it:
// a metric "raw-ms/op" is the baseline of every other "…-ms/op" metric of
// the same result. A benchmark that reports a ratio "a/b" needs none.
var baselineNames = []string{"raw", "baseline", "kernel", "bare"}

// rows pairs a result's metrics with their baselines, by the units'
// naming convention: a unit is "<name>-<unit>" (ready-ms/op: name ready,
// unit ms/op); a ratio metric "a/b" makes the metric named a the figure
// and the metric named b (or b-…) of the same unit its baseline
// (ready/raw: ready-ms/op against raw-ms/op; operator-0-rss/baseline:
// operator-0-rss-MiB against baseline-rss-MiB). Failing that, a metric
// named after baselineNames is the baseline of the others of its unit.
// Baselines and ratios that found their pair get no row of their own.
func rows(ms []Metric) []Row {
	out := make([]Row, len(ms))
	used := make([]bool, len(ms))
	for i, m := range ms {
		out[i] = Row{Metric: m}
	}
	for i, m := range ms {
		f, b, ok := ratioPair(ms, m.Unit)
		if !ok || out[f].Base != nil {
			continue
		}
		out[f].Base, out[f].Ratio, out[f].By = &ms[b], m.Value, m.Unit
		used[i], used[b] = true, true
	}
	for b, m := range ms {
		if !isBaseline(m.Unit) {
			continue
		}
		for f := range ms {
			if f != b && out[f].Base == nil && !used[f] && !isBaseline(ms[f].Unit) &&
				unitOf(ms[f].Unit) == unitOf(m.Unit) && nameOf(ms[f].Unit) != "" && m.Value != 0 &&
				measures(nameOf(m.Unit), baselinePrefix(m.Unit), nameOf(ms[f].Unit)) {
				out[f].Base, out[f].Ratio = &ms[b], ms[f].Value/m.Value
				used[b] = true
			}
		}
	}
	var kept []Row
	for i, r := range out {
		if !used[i] || r.Base != nil {
			kept = append(kept, r)
		}
	}
	return kept
}

// ratioPair finds, for a ratio unit "a/b", the index of the figure named a
// and of its baseline named b (or b-…) with the same unit.
func ratioPair(ms []Metric, ratio string) (figure, base int, ok bool) {
	a, b, found := strings.Cut(ratio, "/")
	if !found || a == "" || b == "" || strings.Contains(b, "/") {
		return 0, 0, false
	}
	figure = find(ms, func(m Metric) bool { return nameOf(m.Unit) == a })
	if figure < 0 {
		return 0, 0, false
	}
	unit := unitOf(ms[figure].Unit)
	base = find(ms, func(m Metric) bool {
		return m.Unit != ms[figure].Unit && unitOf(m.Unit) == unit && measures(nameOf(m.Unit), b, a)
	})
	return figure, base, base >= 0
}

// measures reports whether the baseline named name (prefix, or
// prefix-<what>) measures what figure does: a baseline that says what it
// measures ("baseline-rss") is the baseline of figures of that measure
// only ("agent-0-rss"), not of another of the same unit
// ("agent-binary").
func measures(name, prefix, figure string) bool {
	if name == prefix {
		return true
	}
	what, ok := strings.CutPrefix(name, prefix+"-")
	return ok && (figure == what || strings.HasSuffix(figure, "-"+what))
}

// find returns the index of the one metric that matches, or -1 when none
// or several do.
func find(ms []Metric, match func(Metric) bool) int {
	found := -1
	for i, m := range ms {
		if match(m) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// nameOf is what a unit measures: what comes before its last "-"
// ("operator-0-rss" of "operator-0-rss-MiB"), or "" when it has none.
func nameOf(unit string) string {
	i := strings.LastIndex(unit, "-")
	if i < 0 {
		return ""
	}
	return unit[:i]
}

// unitOf is a unit's last part: "MiB" of "operator-0-rss-MiB".
func unitOf(unit string) string {
	return unit[strings.LastIndex(unit, "-")+1:]
}

// isBaseline says whether a unit names a baseline (see baselineNames).
func isBaseline(unit string) bool {
	return baselinePrefix(unit) != ""
}

// baselinePrefix is the name of baselineNames a unit's name starts with,
// or "".
func baselinePrefix(unit string) string {
	n := nameOf(unit)
	for _, b := range baselineNames {
		if n == b || strings.HasPrefix(n, b+"-") {
			return b
		}
	}
	return ""
}
