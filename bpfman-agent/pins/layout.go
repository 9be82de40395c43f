package pins

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultRoot is where the agent pins in production.
const DefaultRoot = BPFFSPath + "/bpfleet"

// stagingPrefix marks a revision being assembled. '~' is accepted by
// bpffs but not by ValidateName, so no revision can collide with it.
const stagingPrefix = "~staging-"

// Dir is the pin directory of one revision of one program.
type Dir string

// Progs is the directory holding the pinned programs, one per program of
// the revision's object.
func (d Dir) Progs() string { return filepath.Join(string(d), "progs") }

// Prog is the path of the pinned program name (its function name in the
// object, a C identifier).
func (d Dir) Prog(name string) string { return filepath.Join(d.Progs(), name) }

// ProgNames lists the programs pinned in d.
func (d Dir) ProgNames() ([]string, error) { return dirNames(d.Progs()) }

// Links is the directory holding the pinned links: one directory per
// program (see ProgLinks), one link per target in it.
func (d Dir) Links() string { return filepath.Join(string(d), "links") }

// LinkSet names the links directory of one program: the program, and the
// hook settings its links were made with (see programs.Attachment.LinkKey;
// "" for none).
type LinkSet struct{ Program, Key string }

// ProgLinks is the directory of the links of program set.Program made with
// the hook settings set.Key: links/<program>, or links/<program>-<key>
// (a C identifier holds no '-').
func (d Dir) ProgLinks(set LinkSet) string {
	name := set.Program
	if set.Key != "" {
		name += "-" + set.Key
	}
	return filepath.Join(d.Links(), name)
}

// Link is the path of the link set's program holds on target ("main", or
// an interface name such as "eth0.100"). bpffs refuses '.', so it is
// pinned as '~', which no target contains.
func (d Dir) Link(set LinkSet, target string) string {
	return filepath.Join(d.ProgLinks(set), targetPinName(target))
}

// LinkSets lists the programs that have a links directory in d.
func (d Dir) LinkSets() ([]LinkSet, error) {
	names, err := subdirs(d.Links(), true)
	out := make([]LinkSet, len(names))
	for i, n := range names {
		out[i].Program, out[i].Key, _ = strings.Cut(n, "-")
	}
	return out, err
}

// LinkTargets lists the targets on which set's program has a pinned link.
func (d Dir) LinkTargets(set LinkSet) ([]string, error) {
	return targetsIn(d.ProgLinks(set))
}

// LegacyProg is where a revision pinned by an agent before applications
// (one program per revision) holds its program: <revision>/prog, its
// links pinned directly as links/<target> (LegacyLink). Such a revision is
// never adopted: a new revision takes its links over (package programs).
func (d Dir) LegacyProg() string { return filepath.Join(string(d), "prog") }

// LegacyLink is the path of a legacy revision's link on target.
func (d Dir) LegacyLink(target string) string {
	return filepath.Join(d.Links(), targetPinName(target))
}

// LegacyLinkTargets lists the targets with a link pinned the legacy way:
// the pins (not directories) directly under links/.
func (d Dir) LegacyLinkTargets() ([]string, error) {
	names, err := subdirs(d.Links(), false)
	for i, n := range names {
		names[i] = strings.ReplaceAll(n, "~", ".")
	}
	return names, err
}

func targetPinName(target string) string { return strings.ReplaceAll(target, ".", "~") }

func targetsIn(dir string) ([]string, error) {
	names, err := dirNames(dir)
	for i, n := range names {
		names[i] = strings.ReplaceAll(n, "~", ".")
	}
	return names, err
}

// Maps is the directory holding the pinned maps.
func (d Dir) Maps() string { return filepath.Join(string(d), "maps") }

// Map is the path of the pinned map name, a name ValidateMapName accepts.
func (d Dir) Map(name string) string { return filepath.Join(d.Maps(), mapPinName(name)) }

// Layout is the tree of pins under Root.
type Layout struct {
	Root string
	// MountAt is where Restore may mount a BPF filesystem for Root when
	// Root's is gone: Root or an ancestor, the mount point the agent
	// mounted or would mount itself (DefaultMountAt). "" mounts nothing.
	MountAt string
}

// Init creates Root and checks that it lies on a BPF filesystem.
func (l Layout) Init() error {
	if err := l.checkMountAt(); err != nil {
		return err
	}
	if err := os.MkdirAll(l.Root, 0o700); err != nil {
		return fmt.Errorf("pin root: %w", err)
	}
	ok, err := IsBPFFS(l.Root)
	if err != nil {
		return fmt.Errorf("pin root: %w", err)
	}
	if !ok {
		return fmt.Errorf("pin root %s: not on a BPF filesystem", l.Root)
	}
	return nil
}

// UIDDir is the directory holding every revision of uid.
func (l Layout) UIDDir(uid string) string { return filepath.Join(l.Root, uid) }

// Revision is the pin directory of revision rev of uid.
func (l Layout) Revision(uid, rev string) Dir {
	return Dir(filepath.Join(l.Root, uid, rev))
}

// Staging is where revision rev of uid is assembled before it is renamed
// to Revision(uid, rev). Its name cannot collide with a valid revision.
func (l Layout) Staging(uid, rev string) Dir {
	return Dir(filepath.Join(l.Root, uid, stagingPrefix+rev))
}

// Publish renames the staged revision into place, atomically.
func (l Layout) Publish(uid, rev string) error {
	if err := os.Rename(string(l.Staging(uid, rev)), string(l.Revision(uid, rev))); err != nil {
		return fmt.Errorf("publish pins: %w", err)
	}
	return nil
}

// Move renames revision from of uid to to, atomically, replacing what
// was pinned as to.
func (l Layout) Move(uid, from, to string) error {
	if err := validateIDs(uid, from); err != nil {
		return err
	}
	if err := l.RemoveRevision(uid, to); err != nil {
		return err
	}
	if err := os.Rename(string(l.Revision(uid, from)), string(l.Revision(uid, to))); err != nil {
		return fmt.Errorf("move pins: %w", err)
	}
	return nil
}

func validateIDs(uid, rev string) error {
	if err := ValidateUID(uid); err != nil {
		return err
	}
	return ValidateRevision(rev)
}

func isStaging(name string) bool { return strings.HasPrefix(name, stagingPrefix) }
