package pins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// Entry is one published revision found under the root.
type Entry struct {
	UID, Revision string
	Dir           Dir
}

// List returns every published revision under the root, in name order.
// Staging directories and names that fail validation are not listed
// (Prune removes them).
func (l Layout) List() ([]Entry, error) {
	uids, err := validEntries(l.Root, "uid")
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, uid := range uids {
		if uid == sharedDirName {
			continue
		}
		revs, err := l.Revisions(uid)
		if err != nil {
			return nil, err
		}
		for _, rev := range revs {
			out = append(out, Entry{UID: uid, Revision: rev, Dir: l.Revision(uid, rev)})
		}
	}
	return out, nil
}

// Revisions returns the published revisions of uid, in name order.
func (l Layout) Revisions(uid string) ([]string, error) {
	if err := ValidateUID(uid); err != nil {
		return nil, err
	}
	revs, err := validEntries(l.UIDDir(uid), "revision")
	return slices.DeleteFunc(revs, func(r string) bool { return r == byNameDirName }), err
}

// MapNames returns the names of the maps pinned in d.
func (d Dir) MapNames() ([]string, error) {
	names, err := dirNames(d.Maps())
	for i := range names {
		names[i] = mapNameOf(names[i])
	}
	return names, err
}

func validEntries(dir, what string) ([]string, error) {
	names, err := dirNames(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range names {
		if ValidateName(what, name) == nil {
			out = append(out, name)
		}
	}
	return out, nil
}

// subdirs lists the directories (dirs) or the other entries (!dirs) of
// dir, treating a missing dir as empty.
func subdirs(dir string, dirs bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() == dirs {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// dirNames lists dir, treating a missing dir as empty.
func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}
