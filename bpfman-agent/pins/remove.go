package pins

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/bpfleet/bpfleet/internal/faultpoint"
)

// RemoveUID unpins every revision of uid, detaching their links, and its
// maps pinned by name.
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

// RemoveOtherRevisions unpins everything of uid except revision keep and
// the maps pinned by name, including leftover staging directories.
func (l Layout) RemoveOtherRevisions(uid, keep string) error {
	if err := validateIDs(uid, keep); err != nil {
		return err
	}
	return removeExcept(l.UIDDir(uid), map[string]bool{keep: true, byNameDirName: true})
}

// Prune removes every entry under the root whose name is not in keep:
// programs no longer desired (their maps pinned by name with them), and
// anything that is not a valid uid; and the staging directories that an install cut short (the agent killed
// between staging and publishing) left in the uids it keeps. The shared
// maps' directory stays: which of its pins are still used is for the
// caller to tell (RemoveShared).
func (l Layout) Prune(keep map[string]bool) error {
	keep = maps.Clone(keep)
	if keep == nil {
		keep = map[string]bool{}
	}
	keep[sharedDirName] = true
	return errors.Join(removeExcept(l.Root, keep), l.RemoveStaging())
}

// RemoveStaging removes every staging directory under the root. Only an
// install cut short leaves one (Publish renames it into place), so call it
// when no install runs. Removing it unpins what the install had made: the
// links it attached detach; a link it had moved in place is pinned by the
// running revision too, and stays.
func (l Layout) RemoveStaging() error {
	uids, err := validEntries(l.Root, "uid")
	if err != nil {
		return err
	}
	var errs []error
	for _, uid := range uids {
		names, err := dirNames(l.UIDDir(uid))
		errs = append(errs, err)
		for _, name := range names {
			if isStaging(name) {
				errs = append(errs, removeAll(filepath.Join(l.UIDDir(uid), name)))
			}
		}
	}
	return errors.Join(errs...)
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
