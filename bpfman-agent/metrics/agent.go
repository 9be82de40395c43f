package metrics

import (
	"sync"
	"time"

	"github.com/bpfleet/bpfleet/internal/buildinfo"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The agent's own counters. The duration of each sync pass is
// controller-runtime's controller_runtime_reconcile_time_seconds (histogram,
// controller="nodesync"), served from the same registry.
var (
	programLoads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bpfleet_agent_program_loads_total",
		Help: "Programs loaded into the kernel (a new program or revision; adopting a pinned one is not a load), by result: loaded or failed.",
	}, []string{"result"})
	loadFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bpfleet_agent_program_load_failures_total",
		Help: "Failed loads and attaches, by reason (VerifierRejected, AttachFailed, InvalidObject, ...).",
	}, []string{"reason"})
	verifierRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bpfleet_agent_verifier_rejections_total",
		Help: "Programs the kernel's verifier refused, by program resource.",
	}, []string{"kind", "program"})
	imageFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bpfleet_agent_image_fetches_total",
		Help: "Bytecode images and entries artifacts asked of the image store, by result: cached (no network), pulled, or failed.",
	}, []string{"result"})
	imagePulls = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "bpfleet_agent_image_pull_duration_seconds",
		Help:    "Time to pull an image into the store and check it (cache hits excluded).",
		Buckets: prometheus.ExponentialBuckets(0.005, 3, 8),
	})
	volumePublishes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bpfleet_agent_csi_publishes_total",
		Help: "Pods' volumes of maps (csi.bpfleet.io) the kubelet asked for, by result: published, denied (no mapAccess grant), waiting (the program does not run on the node yet; the kubelet retries), invalid (a volume that can never be mounted as asked) or failed.",
	}, []string{"result"})
	volumesMounted = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bpfleet_agent_csi_volumes",
		Help: "Pods' volumes of maps (csi.bpfleet.io) mounted on the node.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(programLoads, loadFailures, verifierRejections, imageFetches, imagePulls, volumePublishes, volumesMounted,
		buildinfo.Get().Collector("bpfleet_agent_build_info", "The agent's build: always 1, labelled with its version, git revision and Go version."))
}

// Results of a volume's publish.
const (
	PublishPublished = "published"
	PublishDenied    = "denied"
	PublishWaiting   = "waiting"
	PublishInvalid   = "invalid"
	PublishFailed    = "failed"
)

// CountPublish records the result of a volume's publish.
func CountPublish(result string) { volumePublishes.WithLabelValues(result).Inc() }

// SetVolumes records how many volumes are mounted.
func SetVolumes(n int) { volumesMounted.Set(float64(n)) }

// Results of a load and of an image fetch.
const (
	ResultLoaded = "loaded"
	ResultFailed = "failed"
	ResultCached = "cached"
	ResultPulled = "pulled"
)

// CountLoad records a load attempt: reason is "" for a success, else the
// failure's reason; a verifier rejection is also counted by program.
func CountLoad(kind, program, reason string) {
	if reason == "" {
		programLoads.WithLabelValues(ResultLoaded).Inc()
		return
	}
	programLoads.WithLabelValues(ResultFailed).Inc()
	loadFailures.WithLabelValues(reason).Inc()
	if reason == bpfleetv1.ReasonVerifierRejected {
		rejected.add(kind, program)
		verifierRejections.WithLabelValues(kind, program).Inc()
	}
}

// ProgramRef names a program resource in metric labels.
type ProgramRef struct{ Kind, Name string }

// RetainRejections drops the verifier rejection series of the programs
// not in keep (those that left the node), so that the metric does not
// grow with every program ever rejected.
func RetainRejections(keep map[ProgramRef]bool) {
	for _, p := range rejected.drop(keep) {
		verifierRejections.DeleteLabelValues(p.Kind, p.Name)
	}
}

// rejected lists the series of verifierRejections.
var rejected seriesSet

type seriesSet struct {
	mu sync.Mutex
	m  map[ProgramRef]bool
}

func (s *seriesSet) add(kind, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[ProgramRef]bool{}
	}
	s.m[ProgramRef{kind, name}] = true
}

// drop forgets the series not in keep and returns them.
func (s *seriesSet) drop(keep map[ProgramRef]bool) []ProgramRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ProgramRef
	for p := range s.m {
		if !keep[p] {
			delete(s.m, p)
			out = append(out, p)
		}
	}
	return out
}

// CountImageFetch records one fetch from the image store; took counts in
// the pull histogram when the image was pulled.
func CountImageFetch(result string, took time.Duration) {
	imageFetches.WithLabelValues(result).Inc()
	if result == ResultPulled {
		imagePulls.Observe(took.Seconds())
	}
}

// The image cache, as its last collection left it.
var (
	imageCacheBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bpfleet_agent_image_cache_bytes",
		Help: "Bytes of the blobs the node's image cache holds, after the last collection.",
	})
	imageCacheBlobs = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bpfleet_agent_image_cache_blobs",
		Help: "Blobs the node's image cache holds, after the last collection.",
	})
	imageCacheLimit = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bpfleet_agent_image_cache_limit_bytes",
		Help: "The cap on the image cache (--image-cache-max-bytes); above it only images in use are held.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(imageCacheBytes, imageCacheBlobs, imageCacheLimit)
}

// SetImageCache publishes the image cache's size and cap.
func SetImageCache(bytes, blobs, limit int64) {
	imageCacheBytes.Set(float64(bytes))
	imageCacheBlobs.Set(float64(blobs))
	imageCacheLimit.Set(float64(limit))
}
