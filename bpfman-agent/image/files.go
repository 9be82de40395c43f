package image

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
)

// The layout's files, and the modes the store gives them: nothing for
// group and others.
const (
	ingestDir = "ingest"
	dirMode   = 0o700
	fileMode  = 0o600
	// blobMode is read-only, as oras-go makes blobs, for the owner only.
	blobMode = 0o400
)

// blobPath is where the layout keeps the blob dgst names.
func (s *Store) blobPath(dgst digest.Digest) string {
	return filepath.Join(s.dir, "blobs", dgst.Algorithm().String(), dgst.Encoded())
}

// touch records that the artifact dgst names was used now, in its root
// blob's modification time (Collect removes those used longest ago
// first). A failure only makes it look older.
func (s *Store) touch(dgst digest.Digest) {
	now := time.Now()
	_ = os.Chtimes(s.blobPath(dgst), now, now)
}

// restrictPermissions takes from group and others every access to what
// dir holds, and to dir: a cache made by an earlier agent, or by oras-go,
// is readable by all.
func restrictPermissions(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := info.Mode().Perm() &^ 0o077
		if d.IsDir() {
			want = dirMode
		}
		if info.Mode().Perm() == want || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Chmod(path, want)
	})
}

// removeIngest removes what ingest/ holds (oras-go's partial downloads)
// that was last written more than olderThan ago: all of it with 0.
func removeIngest(dir string, olderThan time.Duration) error {
	entries, err := os.ReadDir(filepath.Join(dir, ingestDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < olderThan {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, ingestDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeIngestOf removes the downloads of the blob dgst names from
// ingest/ (oras-go names them "<hex>_<random>"). A concurrent download of
// the same blob loses its file too, and fails: it is pulled again.
func removeIngestOf(dir string, dgst digest.Digest) {
	files, _ := filepath.Glob(filepath.Join(dir, ingestDir, dgst.Encoded()+"_*"))
	for _, f := range files {
		_ = os.Remove(f)
	}
}
