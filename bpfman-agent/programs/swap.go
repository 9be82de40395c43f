package programs

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
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
	old     map[string]link.Link // live links of the running revision, by key
	updated []updated
	made    []link.Link
}

// updated is a link moved in place, and the program it ran before.
type updated struct {
	link link.Link
	prev *ebpf.Program
}

func (m *Manager) newSwap(p Program, prog *ebpf.Program, dir pins.Dir) (*swap, error) {
	old, err := m.runningLinks(p.UID, p.Revision)
	if err != nil {
		return nil, err
	}
	return &swap{p: p, prog: prog, dir: dir, old: old}, nil
}

// runningLinks opens the live links of uid's revisions other than rev.
func (m *Manager) runningLinks(uid, rev string) (map[string]link.Link, error) {
	revs, err := m.layout.Revisions(uid)
	if err != nil {
		return nil, err
	}
	out := map[string]link.Link{}
	for _, r := range revs {
		links, err := pinnedLinks(m.layout.Revision(uid, r))
		if err != nil || r == rev {
			closeLinks(links)
			continue
		}
		for key, l := range links {
			if out[key] != nil || !live(l, 0) {
				l.Close()
				continue
			}
			out[key] = l
		}
	}
	return out, nil
}

// run moves every target and describes the links.
func (s *swap) run() (map[string]LinkInfo, error) {
	out := make(map[string]LinkInfo, len(s.p.Attach))
	for _, key := range slices.Sorted(maps.Keys(s.p.Attach)) {
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
	a, err := spec.Attach(s.prog)
	if err != nil {
		return LinkInfo{}, loader.Errorf(loader.ReasonAttachFailed, "%w", err)
	}
	s.made = append(s.made, a.Link)
	if err := a.Link.Pin(s.dir.Link(key)); err != nil {
		return LinkInfo{}, fmt.Errorf("pin link: %w", err)
	}
	return linkInfo(spec, a.Link, a.Detail)
}

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
	if err := pinAgain(old, s.dir.Link(key)); err != nil {
		return LinkInfo{}, true, err
	}
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
