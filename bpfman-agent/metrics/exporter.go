package metrics

import (
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxSeries caps an export whose MaxSeries is not set.
const DefaultMaxSeries = 1000

// Export is one map whose values an Exporter publishes.
type Export struct {
	Policy, MapName string
	// Type is "counter" or "gauge".
	Type string
	// MaxSeries caps the series of the policy, over all its exports.
	MaxSeries int
	// Program names the program whose map this is, as label "program",
	// when a policy exports the maps of several programs; set it on all
	// of a policy's exports or none.
	Program string
	// Open opens the live map; Collect closes it.
	Open func() (*ebpf.Map, error)
	// Key and Value are the map's BTF types; nil where it has none.
	Key, Value btf.Type
}

// Exporter is a prometheus.Collector reading exported maps at scrape
// time. Its methods are safe for concurrent use.
type Exporter struct {
	mu        sync.Mutex
	exports   []Export
	truncated *prometheus.GaugeVec
	errors    *prometheus.CounterVec
}

// NewExporter returns an Exporter with nothing to export.
func NewExporter() *Exporter {
	return &Exporter{
		truncated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bpfleet_agent_map_export_truncated",
			Help: "1 if the last scrape of the MapPolicy's exported map stopped at maxSeries, else 0.",
		}, []string{"policy"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bpfleet_agent_map_export_errors_total",
			Help: "Scrapes that skipped a MapPolicy's exported map: it could not be opened, read or typed.",
		}, []string{"policy"}),
	}
}

// Set replaces what e exports. The truncation and error series of a
// policy no longer exported are dropped.
func (e *Exporter) Set(exports []Export) {
	keep := policies(exports)
	e.mu.Lock()
	defer e.mu.Unlock()
	for policy := range policies(e.exports) {
		if !keep[policy] {
			e.truncated.DeleteLabelValues(policy)
			e.errors.DeleteLabelValues(policy)
		}
	}
	e.exports = append([]Export(nil), exports...)
}

func policies(exports []Export) map[string]bool {
	out := make(map[string]bool, len(exports))
	for _, x := range exports {
		out[x.Policy] = true
	}
	return out
}

// Describe sends nothing: e is an unchecked collector, its series follow
// the exports it is given.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect reads every exported map and sends its values.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	exports := e.exports
	e.mu.Unlock()
	s := newScrape(ch)
	for _, x := range exports {
		if err := s.export(x); err != nil {
			e.errors.WithLabelValues(x.Policy).Inc()
		}
	}
	for policy := range policies(exports) {
		e.truncated.WithLabelValues(policy).Set(boolValue(s.truncated[policy]))
	}
	e.truncated.Collect(ch)
	e.errors.Collect(ch)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// scrape is the state of one Collect: what is sent so far, per policy and
// per metric name.
type scrape struct {
	ch        chan<- prometheus.Metric
	left      map[string]int    // series each policy may still send
	truncated map[string]bool   // policies that hit their cap
	families  map[string]string // metric name → label names, type, help
	seen      map[string]bool   // series sent, by name and label values
}

func newScrape(ch chan<- prometheus.Metric) *scrape {
	return &scrape{ch: ch, left: map[string]int{}, truncated: map[string]bool{},
		families: map[string]string{}, seen: map[string]bool{}}
}

// export sends the series of one map.
func (s *scrape) export(x Export) error {
	valueType, err := metricType(x.Type)
	if err != nil {
		return err
	}
	m, err := x.Open()
	if err != nil {
		return fmt.Errorf("open map %s: %w", x.MapName, err)
	}
	defer m.Close()
	keys := newKeyLayout(x.Key, int(m.KeySize()))
	values, err := newValueLayout(x.Value, int(m.ValueSize()))
	if err != nil {
		return err
	}
	desc, err := s.family(x, valueType, keys, values)
	if err != nil {
		return err
	}
	left := s.budget(x)
	entries, err := readEntries(m, left/len(values.fields)+1)
	if err != nil {
		return err
	}
	s.left[x.Policy], err = s.send(desc, valueType, left, x, keys, values, entries)
	return err
}

func metricType(t string) (prometheus.ValueType, error) {
	switch t {
	case "counter":
		return prometheus.CounterValue, nil
	case "gauge":
		return prometheus.GaugeValue, nil
	}
	return 0, fmt.Errorf("unknown metric type %q", t)
}

// MetricName is the name of the series of a policy's exported map.
func MetricName(policy string) string {
	return "bpfleet_map_" + notLabel.ReplaceAllString(policy, "_")
}

// family describes x's series, and refuses it if another export already
// sent series of that name with other labels, type or help (two policy
// names that differ only in - and .): the scrape would fail as a whole.
func (s *scrape) family(x Export, t prometheus.ValueType, keys keyLayout, values valueLayout) (*prometheus.Desc, error) {
	name, labels := MetricName(x.Policy), keys.names()
	if values.named {
		labels = append(labels, "field")
	}
	if x.Program != "" {
		labels = append(labels, "program")
	}
	help := fmt.Sprintf("Values of map %s, exported by MapPolicy %s.", x.MapName, x.Policy)
	sig := fmt.Sprintf("%s|%d|%s", strings.Join(labels, ","), t, help)
	if prev, ok := s.families[name]; ok && prev != sig {
		return nil, fmt.Errorf("metric %s: sent already with other labels or help", name)
	}
	s.families[name] = sig
	desc := prometheus.NewDesc(name, help, labels, nil)
	return desc, desc.Err()
}

func (s *scrape) budget(x Export) int {
	if left, ok := s.left[x.Policy]; ok {
		return left
	}
	if x.MaxSeries > 0 {
		return x.MaxSeries
	}
	return DefaultMaxSeries
}

// send sends up to left series and returns how many more the policy may
// send.
func (s *scrape) send(desc *prometheus.Desc, t prometheus.ValueType, left int, x Export, keys keyLayout, values valueLayout, entries []entry) (int, error) {
	for _, e := range entries {
		labels := keys.values(e.key)
		for _, f := range values.fields {
			if left == 0 {
				s.truncated[x.Policy] = true
				return 0, nil
			}
			lv := withOptional(labels, values.named, f.name, x.Program)
			id := desc.String() + "\xff" + strings.Join(lv, "\xff")
			if s.seen[id] {
				continue // keys equal but for padding bytes
			}
			metric, err := prometheus.NewConstMetric(desc, t, f.sum(e.value), lv...)
			if err != nil {
				return left, err
			}
			s.seen[id] = true
			s.ch <- metric
			left--
		}
	}
	return left, nil
}

// withOptional appends the field and program label values where they
// are labels.
func withOptional(labels []string, named bool, field, program string) []string {
	out := append([]string(nil), labels...)
	if named {
		out = append(out, field)
	}
	if program != "" {
		out = append(out, program)
	}
	return out
}
