package csi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/durable"
)

// volume is a published volume: its record, kept in the state directory,
// and what Follow last found.
type volume struct {
	record
	// stale says which pins no longer name the program's maps (see
	// Follow); "" when all do.
	stale string
}

// record is what the driver keeps of a published volume.
type record struct {
	VolumeID string `json:"volumeID"`
	Target   string `json:"target"`
	Program  Ref    `json:"program"`
	UID      string `json:"uid"`
	Pod      Pod    `json:"pod"`
	// Maps the volume holds, and whether the pod may write them.
	Maps   []string                `json:"maps"`
	Access bpfleetv1.MapAccessMode `json:"access"`
}

// store keeps the records in a directory, one file each, named after a
// digest of the volume ID (which the kubelet chooses).
type store struct{ dir string }

// path is the file of volumeID's record.
func (s store) path(volumeID string) string {
	return filepath.Join(s.dir, fileName(volumeID)+".json")
}

// staging is where volumeID's filesystem is mounted while it is made.
func (s store) staging(volumeID string) string {
	return filepath.Join(s.dir, "mnt-"+fileName(volumeID))
}

// clearStaging unmounts and removes what a publish cut short by a crash
// left at its staging path.
func (s store) clearStaging() error {
	left, err := filepath.Glob(filepath.Join(s.dir, "mnt-*"))
	var errs []error
	for _, dir := range left {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", dir, err))
		}
		if err := os.Remove(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("staging mounts: %w", err))
	}
	return errors.Join(errs...)
}

// fileName names volumeID's files: a digest, whatever the ID holds.
func fileName(volumeID string) string {
	sum := sha256.Sum256([]byte(volumeID))
	return hex.EncodeToString(sum[:16])
}

// load reads every record. One that does not decode is set aside
// (renamed *.bad) and reported, not skipped in silence.
func (s store) load() ([]record, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("volume records: %w", err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("volume records: %w", err)
	}
	var out []record
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var rec record
		data, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err == nil {
			err = json.Unmarshal(data, &rec)
		}
		if err != nil {
			bad := filepath.Join(s.dir, e.Name())
			errs = append(errs, fmt.Errorf("volume record %s, set aside: %w", e.Name(), errors.Join(err, os.Rename(bad, bad+".bad"))))
			continue
		}
		out = append(out, rec)
	}
	return out, errors.Join(errs...)
}

// put writes rec whole (durable.WriteFile: a crash leaves the old record
// or the new one).
func (s store) put(rec record) error {
	data, err := json.Marshal(rec)
	if err == nil {
		err = durable.WriteFile(s.path(rec.VolumeID), data)
	}
	if err != nil {
		return fmt.Errorf("record volume %s: %w", rec.VolumeID, err)
	}
	return nil
}

// remove deletes the record of volumeID, if any.
func (s store) remove(volumeID string) error {
	if err := os.Remove(s.path(volumeID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forget volume %s: %w", volumeID, err)
	}
	return nil
}
