package pins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// byNameDirName is the directory, inside a uid's directory, holding the
// maps its object declares pinned by name (libbpf's LIBBPF_PIN_BY_NAME).
// No revision may take its name (ValidateRevision).
const byNameDirName = "by-name"

// ValidateRevision is ValidateName for a revision, which must also not be
// the name of a uid's by-name maps' directory.
func ValidateRevision(rev string) error {
	if err := ValidateName("revision", rev); err != nil {
		return err
	}
	if rev == byNameDirName {
		return fmt.Errorf("revision %q: %w: reserved for the maps pinned by name", rev, ErrInvalidName)
	}
	return nil
}

// ByName is the directory holding uid's maps pinned by name: a map the
// object declares with LIBBPF_PIN_BY_NAME is pinned at ByName(uid)/<name>
// (cilium/ebpf's MapOptions.PinPath). Every revision of uid uses that one
// map; no other uid sees it.
func (l Layout) ByName(uid string) string { return filepath.Join(l.UIDDir(uid), byNameDirName) }

// InitByName creates uid's by-name directory.
func (l Layout) InitByName(uid string) error {
	if err := ValidateUID(uid); err != nil {
		return err
	}
	if err := os.MkdirAll(l.ByName(uid), 0o700); err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	return nil
}

// ByNameMaps lists the maps pinned by name for uid.
func (l Layout) ByNameMaps(uid string) ([]string, error) {
	if err := ValidateUID(uid); err != nil {
		return nil, err
	}
	return dirNames(l.ByName(uid))
}

// RemoveByName unpins uid's map pinned by name, and the by-name directory
// if it is left empty. The map goes once no revision pins it and no fd
// holds it.
func (l Layout) RemoveByName(uid, name string) error {
	if err := ValidateUID(uid); err != nil {
		return err
	}
	if err := ValidateName("map", name); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(l.ByName(uid), name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unpin map %s pinned by name: %w", name, err)
	}
	return removeIfEmpty(l.ByName(uid))
}
