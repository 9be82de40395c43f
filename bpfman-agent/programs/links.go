package programs

import (
	"fmt"
	"path/filepath"

	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// pinnedLink is a link pinned in a revision.
type pinnedLink struct {
	set    pins.LinkSet // the program holding it
	target string
	path   string
	link   link.Link
}

// openLinks opens the links pinned in dir, each program's. The links a
// legacy revision pinned directly under links/ are filed under legacy,
// the set of its one program. Pins that do not load are skipped. The
// caller closes the links.
func openLinks(dir pins.Dir, legacy pins.LinkSet) ([]pinnedLink, error) {
	sets, err := dir.LinkSets()
	if err != nil {
		return nil, err
	}
	var out []pinnedLink
	for _, set := range sets {
		targets, err := dir.LinkTargets(set)
		if err != nil {
			closePinned(out)
			return nil, err
		}
		out = appendLoaded(out, set, targets, func(t string) string { return dir.Link(set, t) })
	}
	targets, err := dir.LegacyLinkTargets()
	if err != nil {
		closePinned(out)
		return nil, err
	}
	return appendLoaded(out, legacy, targets, dir.LegacyLink), nil
}

// appendLoaded appends the links of set on targets, pinned at path(target),
// that load.
func appendLoaded(out []pinnedLink, set pins.LinkSet, targets []string, path func(string) string) []pinnedLink {
	for _, t := range targets {
		if l, err := link.LoadPinnedLink(path(t), nil); err == nil {
			out = append(out, pinnedLink{set: set, target: t, path: path(t), link: l})
		}
	}
	return out
}

// pinnedLinkSets opens the links pinned in dir, a revision of p.UID: a
// legacy revision's are its one program's, which p's program takes over
// when p has one program (a single program kind, as legacy revisions
// were), with the hook settings its revision's name gives.
func pinnedLinkSets(dir pins.Dir, p Program) ([]pinnedLink, error) {
	var legacy pins.LinkSet
	if len(p.Programs) == 1 {
		legacy = pins.LinkSet{Program: p.Programs[0].Name, Key: ParseRevision(filepath.Base(string(dir))).Links}
	}
	return openLinks(dir, legacy)
}

func closePinned(links []pinnedLink) {
	for _, pl := range links {
		pl.link.Close()
	}
}

// live reports whether l still hooks something and runs program progID
// (any program, for progID 0).
func live(l link.Link, progID uint32) bool {
	info, err := l.Info()
	if err != nil || progID != 0 && uint32(info.Program) != progID {
		return false
	}
	detached, err := attach.Detached(l)
	return err == nil && !detached
}

// pinAgain pins l at path too, leaving its other pin where it is.
func pinAgain(l link.Link, path string) error {
	info, err := l.Info()
	if err != nil {
		return fmt.Errorf("link info: %w", err)
	}
	fresh, err := link.NewFromID(info.ID)
	if err != nil {
		return fmt.Errorf("reopen link %d: %w", info.ID, err)
	}
	defer fresh.Close()
	if err := fresh.Pin(path); err != nil {
		return fmt.Errorf("pin link: %w", err)
	}
	return nil
}

func linkInfo(spec attach.Spec, l link.Link, detail string) (LinkInfo, error) {
	info, err := l.Info()
	if err != nil {
		return LinkInfo{}, fmt.Errorf("link info: %w", err)
	}
	return LinkInfo{ID: uint32(info.ID), Detail: attach.Detail(spec, l, detail)}, nil
}

func closeLinks(links map[linkRef]link.Link) {
	for _, l := range links {
		l.Close()
	}
}
