package image

import (
	"bytes"
	"context"
	"errors"
	"io"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// Entries is a verified map entries artifact.
type Entries struct {
	// Digest is the manifest digest it was fetched by.
	Digest string
	// JSON is the entries list, decompressed: a JSON array (of
	// {"key": ..., "value": ...} objects, which this package does not check).
	JSON []byte
	// FromCache is true when FetchEntries did not go to the registry.
	FromCache bool
}

func (e *Entries) setSource(dgst string, fromCache bool) { e.Digest, e.FromCache = dgst, fromCache }
func (e *Entries) source() (string, bool)                { return e.Digest, e.FromCache }

// FetchEntries returns the map entries artifact (see internal/oci's
// PushEntries) that ref names, as Fetch does for a bytecode image: ref must
// be pinned to a digest, policy and creds are as for Fetch, and the
// artifact shares the cache with bytecode images.
func (s *Store) FetchEntries(ctx context.Context, ref string, creds *bpfoci.Credentials, policy PullPolicy) (*Entries, error) {
	return fetch(ctx, s, ref, creds, policy, s.entries)
}

// entries builds the Entries that an artifact's blobs describe. The config
// is not looked at: oras and PushEntries leave it empty.
func (s *Store) entries(b blobs) (*Entries, error) {
	if !isEntriesType(b.layerType) {
		return nil, newError(ReasonInvalid, "layer media type %q is not a map entries list (want %s); is this a bytecode image?",
			b.layerType, bpfoci.MediaTypeMapEntries)
	}
	list, err := readEntries(b.layer, s.limits.entries)
	if err != nil {
		return nil, err
	}
	return &Entries{JSON: list}, nil
}

func isEntriesType(mediaType string) bool {
	return mediaType == bpfoci.MediaTypeMapEntries || mediaType == bpfoci.MediaTypeMapEntriesGzip
}

// checkNotEntries refuses a map entries layer where bytecode is wanted.
func checkNotEntries(layerType string) error {
	if isEntriesType(layerType) {
		return newError(ReasonInvalid, "layer media type %q is a map entries list, not bytecode; "+
			"is this a MapPolicy's entries artifact rather than a bytecode image?", layerType)
	}
	return nil
}

// readEntries returns the JSON array that a layer holds, gzip'd or not: as
// for bytecode, the content says which, not the media type. At most
// maxEntries bytes are decompressed. Only the first byte of the JSON is
// looked at.
func readEntries(layer []byte, maxEntries int64) ([]byte, error) {
	stream, err := bpfoci.Decompress(layer, maxEntries)
	if err != nil {
		return nil, newError(ReasonInvalid, "map entries: %w", err)
	}
	list, err := io.ReadAll(stream)
	switch {
	case errors.Is(err, bpfoci.ErrTooLarge):
		return nil, newError(ReasonTooLarge, "map entries: %w", err)
	case err != nil:
		return nil, newError(ReasonInvalid, "map entries: layer: bad gzip stream: %w", err)
	}
	if start := bytes.TrimLeft(list, " \t\r\n"); !bytes.HasPrefix(start, []byte("[")) {
		return nil, newError(ReasonInvalid, "map entries: layer is not a JSON array (first bytes: %.20q)", start)
	}
	return list, nil
}
