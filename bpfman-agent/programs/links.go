package programs

import (
	"fmt"

	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// pinnedLinks opens the links pinned in dir, by target key. Pins that do
// not load are skipped. The caller closes the links.
func pinnedLinks(dir pins.Dir) (map[string]link.Link, error) {
	keys, err := dir.LinkTargets()
	out := make(map[string]link.Link, len(keys))
	for _, key := range keys {
		if l, err := link.LoadPinnedLink(dir.Link(key), nil); err == nil {
			out[key] = l
		}
	}
	return out, err
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

func closeLinks(links map[string]link.Link) {
	for _, l := range links {
		l.Close()
	}
}
