package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// A Run is the output of one `go test -bench` command.
type Run struct {
	File     string     // the raw output's file name
	Command  string     // the command, from the file's "command:" line
	Packages []*Package // in the order they appear
}

// A Package holds one package's results within a run.
type Package struct {
	Path    string   // import path, from "pkg:" (or a FAIL line)
	Results []Result // in the order they appear
	Failed  bool     // the package's run ended in FAIL
}

// A Result is one benchmark's result line.
type Result struct {
	Name    string // without the -GOMAXPROCS suffix
	Iters   int64
	Metrics []Metric // in the order reported, ns/op first
	Failed  bool     // a "--- FAIL" line named it; then it has no metrics
	Reason  string   // the first line it logged when it failed
}

// A Metric is one value and its unit, as b.ReportMetric writes them.
type Metric struct {
	Value float64
	Unit  string
}

var (
	// benchLine is a benchmark's name, then its results or, when the
	// benchmark logged while it ran, whatever it logged.
	benchLine = regexp.MustCompile(`^(Benchmark\S*)(?:\s+(.*))?$`)
	// failLine names a failed benchmark (or test); go test prints it
	// after the benchmark's name, on the same line.
	failLine = regexp.MustCompile(`(?:^|\s)--- FAIL: (\S+)`)
	// pkgEnd is go test's last line for a package: ok or FAIL, then its path.
	pkgEnd = regexp.MustCompile(`^(ok|FAIL)\s+(\S+)`)
	// procsSuffix is the -GOMAXPROCS suffix go test adds to names.
	procsSuffix = regexp.MustCompile(`-(\d+)$`)
)

// parseRun reads the raw output of one command: an optional "command:"
// line, then go test's output. It reads what it can: log lines between a
// benchmark's name and its results are skipped, as go test prints the
// name before running it.
func parseRun(name string, r io.Reader) (*Run, error) {
	p := &parser{run: &Run{File: name}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		p.line(strings.TrimRight(sc.Text(), " \t\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	p.run.trimProcs()
	return p.run, nil
}

// A parser reads one command's output, a line at a time.
type parser struct {
	run     *Run
	pkg     *Package // named by the last "pkg:" line; nil after ok/FAIL
	pending string   // a benchmark whose name was printed, results not yet
}

func (p *parser) line(line string) {
	if cmd, ok := strings.CutPrefix(line, "command: "); ok && p.run.Command == "" {
		p.run.Command = cmd
	} else if path, ok := strings.CutPrefix(line, "pkg: "); ok {
		p.pkg = p.run.adopt(path)
	} else if m := pkgEnd.FindStringSubmatch(line); m != nil {
		p.run.adopt(m[2]).Failed = m[1] == "FAIL"
		p.pkg = nil
	} else if m := failLine.FindStringSubmatch(line); m != nil {
		p.run.addFailure(p.pkg, m[1])
		p.pending = ""
	} else if m := benchLine.FindStringSubmatch(line); m != nil {
		p.pending = m[1]
		p.results(m[2])
	} else if !p.results(line) {
		if reason, ok := strings.CutPrefix(line, "    "); ok {
			p.run.addReason(p.pkg, strings.TrimSpace(reason))
		}
	}
}

// results adds the pending benchmark's result if s holds it.
func (p *parser) results(s string) bool {
	iters, metrics, ok := parseResults(s)
	if !ok || p.pending == "" {
		return false
	}
	p.run.add(p.pkg, Result{Name: p.pending, Iters: iters, Metrics: metrics})
	p.pending = ""
	return true
}

// parseResults reads "N v1 unit1 v2 unit2 ...", the results go test
// prints after a benchmark's name.
func parseResults(s string) (int64, []Metric, bool) {
	f := strings.Fields(s)
	if len(f) < 3 || len(f)%2 == 0 {
		return 0, nil, false
	}
	iters, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, nil, false
	}
	var out []Metric
	for i := 1; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, nil, false
		}
		out = append(out, Metric{Value: v, Unit: f[i+1]})
	}
	return iters, out, true
}

// pkg returns the run's package of that path, added if new.
func (r *Run) pkg(path string) *Package {
	for _, p := range r.Packages {
		if p.Path == path {
			return p
		}
	}
	p := &Package{Path: path}
	r.Packages = append(r.Packages, p)
	return p
}

// add appends a result to pkg, or to a package of unknown path when the
// output named none.
func (r *Run) add(pkg *Package, res Result) {
	if pkg == nil {
		pkg = r.pkg("")
	}
	pkg.Results = append(pkg.Results, res)
}

// adopt returns the package of that path, given the results read before
// any line named their package (go test prints a benchmark's failure
// before the header that names the package when it fails at once).
func (r *Run) adopt(path string) *Package {
	p := r.pkg(path)
	for i, orphans := range r.Packages {
		if orphans.Path == "" && path != "" {
			p.Results = append(orphans.Results, p.Results...)
			r.Packages = append(r.Packages[:i], r.Packages[i+1:]...)
			break
		}
	}
	return p
}

// addReason keeps the first line logged after a failure as its reason.
func (r *Run) addReason(pkg *Package, reason string) {
	if pkg == nil {
		pkg = r.pkg("")
	}
	if n := len(pkg.Results); n > 0 && pkg.Results[n-1].Failed && pkg.Results[n-1].Reason == "" {
		pkg.Results[n-1].Reason = reason
	}
}

// addFailure records a failed benchmark; failed tests are not results.
func (r *Run) addFailure(pkg *Package, name string) {
	if strings.HasPrefix(name, "Benchmark") {
		r.add(pkg, Result{Name: name, Failed: true})
	}
}

// trimProcs removes the -GOMAXPROCS suffix from the names, when every
// result line carries the same one (go test adds none when GOMAXPROCS is
// 1).
func (r *Run) trimProcs() {
	suffix := ""
	for _, p := range r.Packages {
		for _, res := range p.Results {
			if res.Failed {
				continue
			}
			m := procsSuffix.FindString(res.Name)
			if m == "" || (suffix != "" && m != suffix) {
				return
			}
			suffix = m
		}
	}
	if suffix == "" {
		return
	}
	for _, p := range r.Packages {
		for i := range p.Results {
			p.Results[i].Name = strings.TrimSuffix(p.Results[i].Name, suffix)
		}
	}
}

// Meta describes a run of make bench: when, at which commit, on which
// machine. It is read from "key: value" lines (hack/bench.sh writes them).
type Meta map[string]string

// parseMeta reads "key: value" lines; others are ignored.
func parseMeta(r io.Reader) (Meta, error) {
	m := Meta{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && !strings.ContainsAny(k, " \t") {
			m[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read meta: %w", err)
	}
	return m, nil
}
