package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Stamped by the linker (Stamp.LDFlags); empty in other builds.
var version, revision string

// Info is one build of a bpfleet binary.
type Info struct {
	// Version is the release (e.g. v0.3.0 or a tag), the module version
	// of a `go install …@version`, or "(devel)".
	Version string `json:"version"`
	// Revision is the git commit it was built from, "" if unknown;
	// Modified says the checkout had changes.
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Time is the commit's time, when the go command recorded it.
	Time      string `json:"time,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the running binary's build.
func Get() Info {
	i := Info{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			i.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.time":
				i.Time = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		i.Version = version
	}
	if revision != "" {
		i.Revision = strings.TrimSuffix(revision, "-dirty")
		i.Modified = strings.HasSuffix(version, "-dirty") || strings.HasSuffix(revision, "-dirty")
	}
	return i
}

// String is the build on one line, e.g.
// "v0.3.0 (revision 1a2b3c4d5e6f, go1.26.8, linux/amd64)".
func (i Info) String() string {
	details := []string{}
	if i.Revision != "" {
		r := i.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		if i.Modified {
			r += ", modified"
		}
		details = append(details, "revision "+r)
	}
	details = append(details, i.GoVersion, i.Platform)
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(details, ", "))
}

// KeysAndValues are the build's fields for a log line.
func (i Info) KeysAndValues() []any {
	return []any{"version", i.Version, "revision", i.Revision, "goVersion", i.GoVersion, "platform", i.Platform}
}

// Collector exports the build as the gauge name (e.g.
// bpfleet_agent_build_info), always 1, labelled version, revision and
// goversion, as Prometheus' own *_build_info metrics are.
func (i Info) Collector(name, help string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: name,
		Help: help,
		ConstLabels: prometheus.Labels{
			"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}

// Stamp is what a release build writes into a binary: the version (a
// tag, or git describe's) and the git revision; a "-dirty" suffix on
// either marks a modified checkout.
type Stamp struct {
	Version, Revision string
}

// LDFlags are the linker flags that stamp s into a binary ("" for an
// empty stamp).
func (s Stamp) LDFlags() string {
	const pkg = "github.com/bpfleet/bpfleet/internal/buildinfo"
	var flags []string
	if s.Version != "" {
		flags = append(flags, "-X "+pkg+".version="+s.Version)
	}
	if s.Revision != "" {
		flags = append(flags, "-X "+pkg+".revision="+s.Revision)
	}
	return strings.Join(flags, " ")
}
