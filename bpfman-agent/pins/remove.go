package pins

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/bpfleet/bpfleet/internal/faultpoint"
)

// RemoveUID unpins every revision of uid, detaching their links.
func (l Layout) RemoveUID(uid string) error {
	if err := ValidateUID(uid); err != nil {
		return err
	}
	return removeAll(l.UIDDir(uid))
}

// RemoveRevision unpins revision rev of uid (published or staged).
func (l Layout) RemoveRevision(uid, rev string) error {
	if err := validateIDs(uid, rev); err != nil {
		return err
	}
	if err := removeAll(string(l.Staging(uid, rev))); err != nil {
		return err
	}
	return removeAll(string(l.Revision(uid, rev)))
}

// RemoveOtherRevisions unpins everything of uid except revision keep,
// including leftover staging directories.
func (l Layout) RemoveOtherRevisions(uid, keep string) error {
	if err := validateIDs(uid, keep); err != nil {
		return err
	}
	return removeExcept(l.UIDDir(uid), map[string]bool{keep: true})
}

// Prune removes every entry under the root whose name is not in keep:
// programs no longer desired, and anything that is not a valid uid. The
// shared maps' directory stays: which of its pins are still used is for
// the caller to tell (RemoveShared).
func (l Layout) Prune(keep map[string]bool) error {
	keep = maps.Clone(keep)
	if keep == nil {
		keep = map[string]bool{}
	}
	keep[sharedDirName] = true
	return removeExcept(l.Root, keep)
}

func removeExcept(dir string, keep map[string]bool) error {
	names, err := dirNames(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if !keep[name] {
			errs = append(errs, removeAll(filepath.Join(dir, name)))
			faultpoint.Point("unpin")
		}
	}
	return errors.Join(errs...)
}

func removeAll(path string) error {
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("unpin: %w", err)
	}
	return nil
}
