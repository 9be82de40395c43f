package image

import (
	"time"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// Default limits; see the Option functions.
const (
	defaultMaxManifest = 4 << 20
	defaultMaxLayer    = 64 << 20
	defaultMaxObject   = 64 << 20
	defaultMaxEntries  = 64 << 20
	// DefaultMaxCacheSize is the default cap on the cache (see
	// WithMaxCacheSize).
	DefaultMaxCacheSize = 1 << 30
	// DefaultPullTimeout is the default bound on one pull (see
	// WithPullTimeout).
	DefaultPullTimeout = 5 * time.Minute
	// tarOverhead is what a decompressed tar layer may hold beyond the
	// object (bpfoci.ExtractObject).
	tarOverhead = bpfoci.TarOverhead
)

type limits struct {
	manifest int64
	layer    int64
	object   int64
	entries  int64
	// cache caps the bytes of the blobs the store holds (see Collect).
	cache int64
	// pull bounds one pull, or one look for signatures, as a whole.
	pull time.Duration
	// timeouts bound each registry request.
	timeouts bpfoci.Timeouts
}

func defaultLimits() limits {
	return limits{
		manifest: defaultMaxManifest, layer: defaultMaxLayer, object: defaultMaxObject, entries: defaultMaxEntries,
		cache: DefaultMaxCacheSize, pull: DefaultPullTimeout, timeouts: bpfoci.DefaultTimeouts,
	}
}

// Option changes a limit of a Store.
type Option func(*limits)

// WithMaxManifestSize limits manifests, image indexes and image configs to n
// bytes (default 4 MiB).
func WithMaxManifestSize(n int64) Option { return func(l *limits) { l.manifest = n } }

// WithMaxLayerSize limits the layer, as stored in the registry (compressed),
// to n bytes (default 64 MiB).
func WithMaxLayerSize(n int64) Option { return func(l *limits) { l.layer = n } }

// WithMaxObjectSize limits the ELF object to n bytes (default 64 MiB); a
// decompressed layer may be at most n bytes plus 1 MiB of tar overhead.
func WithMaxObjectSize(n int64) Option { return func(l *limits) { l.object = n } }

// WithMaxEntriesSize limits the JSON of a map entries artifact, decompressed,
// to n bytes (default 64 MiB).
func WithMaxEntriesSize(n int64) Option { return func(l *limits) { l.entries = n } }

// WithMaxCacheSize caps the cache at n bytes of blobs (default 1 GiB): see
// Collect. Artifacts in use are kept even above it.
func WithMaxCacheSize(n int64) Option { return func(l *limits) { l.cache = n } }

// WithPullTimeout bounds one pull of an artifact, or one look for its
// signatures, as a whole (default 5 minutes).
func WithPullTimeout(d time.Duration) Option { return func(l *limits) { l.pull = d } }

// WithRequestTimeouts bounds each request to a registry (default
// internal/oci's DefaultTimeouts: 10 s to connect, 30 s of silence).
func WithRequestTimeouts(t bpfoci.Timeouts) Option { return func(l *limits) { l.timeouts = t } }
