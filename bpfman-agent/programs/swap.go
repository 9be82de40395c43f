package programs

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/faultpoint"
)

// swap moves the targets of a program to a newly loaded revision, pinning
// the links in the revision's staging directory. A target the running
// revision has a live link on is moved in place, by link.Update, where the
// hook allows it (XDP, TCX); the link keeps its ID and is pinned in both
// revisions until the old one is removed. Any other target gets a new
// link, while the old one, if any, keeps running until its revision is
// removed. Either way the hook never goes empty.
type swap struct {
	p       Program
	prog    *ebpf.Program
	dir     pins.Dir
	old     map[string]link.Link // live links of the running revision, by key, with compatible hook settings
	stale   map[string]string    // pins of live links whose hook settings changed, by key
	updated []updated
	made    []link.Link
}

// updated is a link moved in place, and the program it ran before.
type updated struct {
	link link.Link
	prev *ebpf.Program
}

func (m *Manager) newSwap(p Program, prog *ebpf.Program, dir pins.Dir) (*swap, error) {
	s := &swap{p: p, prog: prog, dir: dir, old: map[string]link.Link{}, stale: map[string]string{}}
	return s, m.runningLinks(s)
}

// runningLinks opens the live links of the program's other revisions: those
// with the same hook settings can be updated in place; the pins of the
// others are noted, to detach them if the hook admits one link only.
func (m *Manager) runningLinks(s *swap) error {
	revs, err := m.layout.Revisions(s.p.UID)
	if err != nil {
		return err
	}
	for _, r := range revs {
		dir := m.layout.Revision(s.p.UID, r)
		links, err := pinnedLinks(dir)
		if err != nil || r == s.p.Revision.String() {
			closeLinks(links)
			continue
		}
		for key, l := range links {
			switch {
			case !live(l, 0) || s.old[key] != nil:
				l.Close()
			case ParseRevision(r).Links != s.p.Revision.Links:
				s.stale[key] = dir.Link(key)
				l.Close()
			default:
				s.old[key] = l
			}
		}
	}
	return nil
}

// run moves every target and describes the links.
func (s *swap) run() (map[string]LinkInfo, error) {
	out := make(map[string]LinkInfo, len(s.p.Attach))
	// Targets whose old link must be detached first (a changed XDP mode)
	// go last, so that a failure elsewhere is met before anything is
	// detached.
	keys := slices.Sorted(maps.Keys(s.p.Attach))
	slices.SortStableFunc(keys, func(a, b string) int { return boolInt(s.stale[a] != "") - boolInt(s.stale[b] != "") })
	for _, key := range keys {
		info, err := s.move(key, s.p.Attach[key])
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", key, err)
		}
		out[key] = info
	}
	return out, nil
}

func (s *swap) move(key string, spec attach.Spec) (LinkInfo, error) {
	if old := s.old[key]; old != nil {
		if info, done, err := s.update(key, spec, old); done {
			return info, err
		}
	}
	a, err := s.attach(key, spec)
	if err != nil {
		return LinkInfo{}, attachError(err)
	}
	s.made = append(s.made, a.Link)
	if err := a.Link.Pin(s.dir.Link(key)); err != nil {
		return LinkInfo{}, fmt.Errorf("pin link: %w", err)
	}
	faultpoint.Point("attach")
	return linkInfo(spec, a.Link, a.Detail)
}

// attach attaches a new link. Where the hook holds one link only (XDP) and
// the old link's settings differ (a new mode), the old link must go first:
// the one case where the hook is briefly empty.
func (s *swap) attach(key string, spec attach.Spec) (attach.Attachment, error) {
	a, err := spec.Attach(s.prog)
	if err == nil || s.stale[key] == "" || !busy(err) {
		return a, err
	}
	if rerr := os.Remove(s.stale[key]); rerr != nil {
		return a, errors.Join(err, rerr)
	}
	delete(s.stale, key)
	// The kernel releases the unpinned link asynchronously.
	for range 100 {
		if a, err = spec.Attach(s.prog); !busy(err) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a, err
}

func busy(err error) bool { return errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) }

// update moves old to the new program in place. done is false if the hook
// does not support that (cilium/ebpf and the kernel say so with
// ErrNotSupported, EOPNOTSUPP or EINVAL), and nothing changed.
func (s *swap) update(key string, spec attach.Spec, old link.Link) (info LinkInfo, done bool, err error) {
	oi, err := old.Info()
	if err != nil {
		return LinkInfo{}, false, nil
	}
	prev, err := programOf(uint32(oi.Program))
	if err != nil {
		return LinkInfo{}, false, nil
	}
	if err := old.Update(s.prog); err != nil {
		prev.Close()
		return LinkInfo{}, false, nil
	}
	s.updated = append(s.updated, updated{link: old, prev: prev})
	faultpoint.Point("update")
	if err := pinAgain(old, s.dir.Link(key)); err != nil {
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
