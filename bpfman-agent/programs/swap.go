package programs

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/faultpoint"
)

// swap moves the targets of an application's programs to a newly loaded
// revision, pinning the links in the revision's staging directory. A
// target on which the running revision's program of the same name has a
// live link is moved in place, by link.Update, where the hook allows it
// (XDP, TCX, cgroup) and the program's hook settings (its LinkKey) are
// unchanged; the link keeps its ID and is pinned in both revisions until
// the old one is removed. Any other target gets a new link, while the old
// one, if any, keeps running until its revision is removed. Either way the
// hook never goes empty. The links of a program the new revision drops
// stay until the old revision is removed, after the new one is in place.
type swap struct {
	p       Program
	progs   map[string]*ebpf.Program // the new revision's, by name
	dir     pins.Dir
	old     map[linkRef]link.Link // live links of the running revision, with unchanged hook settings
	stale   map[linkRef]string    // pins of live links whose hook settings changed
	updated []updated
	made    []link.Link
}

// linkRef names a program's link on one target.
type linkRef struct{ program, target string }

// updated is a link moved in place, and the program it ran before.
type updated struct {
	link link.Link
	prev *ebpf.Program
}

func (m *Manager) newSwap(p Program, progs map[string]*ebpf.Program, dir pins.Dir) (*swap, error) {
	s := &swap{p: p, progs: progs, dir: dir, old: map[linkRef]link.Link{}, stale: map[linkRef]string{}}
	return s, m.runningLinks(s)
}

// runningLinks opens the live links of the programs of the application's
// other revisions that the new one keeps: those with the same hook
// settings can be updated in place; the pins of the others are noted, to
// detach them if the hook admits one link only.
func (m *Manager) runningLinks(s *swap) error {
	revs, err := m.layout.Revisions(s.p.UID)
	if err != nil {
		return err
	}
	keep := make(map[string]Attachment, len(s.p.Programs))
	for _, a := range s.p.Programs {
		keep[a.Name] = a
	}
	for _, r := range revs {
		if r == s.p.Revision.String() {
			continue
		}
		pinned, err := pinnedLinkSets(m.layout.Revision(s.p.UID, r), s.p)
		if err != nil {
			return err
		}
		for _, pl := range pinned {
			s.take(pl, keep)
		}
	}
	return nil
}

// take files pl, a link of a running revision, as one to update in place
// or as stale; it closes the links it does not keep.
func (s *swap) take(pl pinnedLink, keep map[string]Attachment) {
	ref := linkRef{pl.set.Program, pl.target}
	a, wanted := keep[pl.set.Program]
	switch {
	case !wanted || !live(pl.link, 0) || s.old[ref] != nil:
		pl.link.Close()
	case pl.set.Key != a.LinkKey:
		s.stale[ref] = pl.path
		pl.link.Close()
	default:
		s.old[ref] = pl.link
	}
}

// moved describes the links of a swap, by program and target, and why
// its soft targets that failed did.
type moved struct {
	links  map[string]map[string]LinkInfo
	failed map[string]map[string]string
}

// run moves every target of every program and describes the links, by
// program and target. A soft target that fails is left without a link,
// and said so.
func (s *swap) run() (moved, error) {
	out := moved{links: make(map[string]map[string]LinkInfo, len(s.p.Programs)), failed: map[string]map[string]string{}}
	specs := map[linkRef]attach.Spec{}
	sets := map[string]pins.LinkSet{}
	soft := map[linkRef]bool{}
	for _, a := range s.p.Programs {
		out.links[a.Name] = make(map[string]LinkInfo, len(a.Attach))
		sets[a.Name] = a.set()
		for target := range a.Soft {
			soft[linkRef{a.Name, target}] = a.Soft[target]
		}
		for target, spec := range a.Attach {
			specs[linkRef{a.Name, target}] = spec
		}
	}
	// Targets whose old link must be detached first (a changed XDP mode)
	// go last, so that a failure elsewhere is met before anything is
	// detached.
	refs := slices.SortedFunc(maps.Keys(specs), func(a, b linkRef) int {
		return cmp.Or(boolInt(s.stale[a] != "")-boolInt(s.stale[b] != ""),
			cmp.Compare(a.program, b.program), cmp.Compare(a.target, b.target))
	})
	for _, ref := range refs {
		info, err := s.move(ref, sets[ref.program], specs[ref])
		if err != nil && soft[ref] {
			out.failed[ref.program] = softFailure(out.failed[ref.program], ref.target, err)
			continue
		}
		if err != nil {
			return moved{}, fmt.Errorf("program %s: target %s: %w", ref.program, ref.target, err)
		}
		out.links[ref.program][ref.target] = info
	}
	return out, nil
}

func (s *swap) move(ref linkRef, set pins.LinkSet, spec attach.Spec) (LinkInfo, error) {
	path := s.dir.Link(set, ref.target)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return LinkInfo{}, fmt.Errorf("pin: %w", err)
	}
	if old := s.old[ref]; old != nil {
		if info, done, err := s.update(path, s.progs[ref.program], spec, old); done {
			return info, err
		}
	}
	a, err := s.attach(ref, spec)
	if err != nil {
		return LinkInfo{}, attachError(err)
	}
	s.made = append(s.made, a.Link)
	if err := a.Link.Pin(path); err != nil {
		return LinkInfo{}, fmt.Errorf("pin link: %w", err)
	}
	faultpoint.Point("attach")
	return linkInfo(spec, a.Link, a.Detail)
}

// attach attaches a new link. Where the hook holds one link only (XDP) and
// the old link's settings differ (a new mode), the old link must go first:
// the one case where the hook is briefly empty.
func (s *swap) attach(ref linkRef, spec attach.Spec) (attach.Attachment, error) {
	prog := s.progs[ref.program]
	a, err := spec.Attach(prog)
	if err == nil || s.stale[ref] == "" || !attach.Busy(err) {
		return a, err
	}
	if rerr := os.Remove(s.stale[ref]); rerr != nil {
		return a, errors.Join(err, rerr)
	}
	delete(s.stale, ref)
	// The kernel releases the unpinned link asynchronously.
	for range 100 {
		if a, err = spec.Attach(prog); !attach.Busy(err) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a, err
}

// update moves old to the new program prog in place, and pins it at path
// too. done is false if the hook does not support that (cilium/ebpf and
// the kernel say so with ErrNotSupported, EOPNOTSUPP or EINVAL), and
// nothing changed.
func (s *swap) update(path string, prog *ebpf.Program, spec attach.Spec, old link.Link) (info LinkInfo, done bool, err error) {
	oi, err := old.Info()
	if err != nil {
		return LinkInfo{}, false, nil
	}
	prev, err := programOf(uint32(oi.Program))
	if err != nil {
		return LinkInfo{}, false, nil
	}
	if err := old.Update(prog); err != nil {
		prev.Close()
		return LinkInfo{}, false, nil
	}
	s.updated = append(s.updated, updated{link: old, prev: prev})
	faultpoint.Point("update")
	if err := pinAgain(old, path); err != nil {
		return LinkInfo{}, true, err
	}
	faultpoint.Point("update-pin")
	info, err = linkInfo(spec, old, spec.String())
	return info, true, err
}

// rollback moves the links updated in place back to their old programs.
// Removing the staging directory and closing s then detach the new links.
func (s *swap) rollback() error {
	var errs []error
	for _, u := range s.updated {
		if err := u.link.Update(u.prev); err != nil {
			errs = append(errs, fmt.Errorf("roll back link update: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *swap) close() {
	closeLinks(s.old)
	for _, l := range s.made {
		l.Close()
	}
	for _, u := range s.updated {
		u.prev.Close()
	}
}

// attachError classifies an attach failure: a kernel that lacks the
// facility is Unsupported, anything else AttachFailed.
func attachError(err error) error {
	var unsupported *failure.Unsupported
	if errors.As(err, &unsupported) {
		return loader.Errorf(loader.ReasonUnsupported, "%w", err)
	}
	return loader.Errorf(loader.ReasonAttachFailed, "%w", err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
