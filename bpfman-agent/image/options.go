package image

// Default limits; see the Option functions.
const (
	defaultMaxManifest = 4 << 20
	defaultMaxLayer    = 64 << 20
	defaultMaxObject   = 64 << 20
	defaultMaxEntries  = 64 << 20
	// tarOverhead is what a decompressed tar layer may hold beyond the
	// object: headers, directories and small files.
	tarOverhead = 1 << 20
)

type limits struct {
	manifest int64
	layer    int64
	object   int64
	entries  int64
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
