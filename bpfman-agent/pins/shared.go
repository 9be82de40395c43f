package pins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// sharedDirName is the directory under the root holding the node-wide
// shared maps. No program uid may take it (ValidateUID).
const sharedDirName = "shared"

// ValidateUID is ValidateName for a program uid, which must also not be
// the name of the shared maps' directory.
func ValidateUID(uid string) error {
	if err := ValidateName("uid", uid); err != nil {
		return err
	}
	if uid == sharedDirName {
		return fmt.Errorf("uid %q: %w: reserved for shared maps", uid, ErrInvalidName)
	}
	return nil
}

// ValidateSharedName checks the name of a shared map: [A-Za-z0-9_.-], as
// a Kubernetes object name, and not dots only.
func ValidateSharedName(name string) error {
	if strings.Trim(name, ".") == "" {
		return fmt.Errorf("shared map %q: %w", name, ErrInvalidName)
	}
	return validate("shared map", name, "-.")
}

// SharedDir is the directory holding the shared maps.
func (l Layout) SharedDir() string { return filepath.Join(l.Root, sharedDirName) }

// Shared is the path of the shared map name, a name ValidateSharedName
// accepts. bpffs refuses '.', so it is pinned as '~'.
func (l Layout) Shared(name string) string {
	return filepath.Join(l.SharedDir(), strings.ReplaceAll(name, ".", "~"))
}

// SharedNames lists the shared maps pinned under the root.
func (l Layout) SharedNames() ([]string, error) {
	names, err := dirNames(l.SharedDir())
	for i, n := range names {
		names[i] = strings.ReplaceAll(n, "~", ".")
	}
	return names, err
}

// InitShared creates the directory of the shared maps.
func (l Layout) InitShared() error {
	if err := os.MkdirAll(l.SharedDir(), 0o700); err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	return nil
}

// RemoveShared unpins the shared map name, and the shared directory if it
// is left empty. The map itself goes once no revision pins it and no fd
// holds it.
func (l Layout) RemoveShared(name string) error {
	if err := ValidateSharedName(name); err != nil {
		return err
	}
	if err := os.Remove(l.Shared(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unpin shared map %s: %w", name, err)
	}
	return removeIfEmpty(l.SharedDir())
}

// removeIfEmpty removes the directory dir if it is empty.
func removeIfEmpty(dir string) error {
	err := os.Remove(dir)
	if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unpin: %w", err)
	}
	return nil
}
