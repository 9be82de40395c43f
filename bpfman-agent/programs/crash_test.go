package programs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// loadPinned loads p's program as the agent would, pins it at path and
// returns it (closed with the test).
func loadPinned(t *testing.T, p programs.Program, path string) *ebpf.Program {
	t.Helper()
	ld, err := loader.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ld.Load(p.Object, p.Programs[0].Name, p.GlobalData)
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range objs.Maps {
		mp.Close()
	}
	t.Cleanup(func() { objs.Program.Close() })
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := objs.Program.Pin(path); err != nil {
		t.Fatal(err)
	}
	return objs.Program
}

// A crashed install of r2 left its staging directory: its program and a
// new link attached to the tracepoint, pinned there only. A restarted
// agent's Prune removes it, detaching that link, and leaves r1 running.
func TestPruneRemovesCrashedStaging(t *testing.T) {
	m, root := setup(t)
	running := apply(t, m, counter("uid-a", "r1"))
	staging := filepath.Join(root, "uid-a", "~staging-r2")
	prog := loadPinned(t, counter("uid-a", "r2"), filepath.Join(staging, "progs", "count_openat"))
	l, err := openat.Attach(prog)
	if err != nil {
		t.Fatal(err)
	}
	crashed := linkID(t, l.Link)
	pinLink(t, l.Link, filepath.Join(staging, "links", "count_openat", "main"))
	l.Link.Close()

	restarted := newManager(t, root)
	if err := restarted.Prune(map[string]bool{"uid-a": true}); err != nil {
		t.Fatal(err)
	}
	assertNotExist(t, staging)
	if err := eventuallyGone(linkExists, crashed); err != nil {
		t.Fatalf("the crashed install's link %d: %v, want detached", crashed, err)
	}
	assertAlive(t, running)
	installed, err := restarted.Installed()
	if err != nil || len(installed) != 1 || sole(installed[0]).Links["main"].ID != sole(running).Links["main"].ID {
		t.Fatalf("Installed() = %+v, %v; want r1 untouched", installed, err)
	}
}

// A crashed install of r2 had moved r1's XDP link in place to its own
// program (pinned in staging only) when the agent died. A restarted agent
// that still wants r1 moves the link back in place: same link ID, r1's
// program, no moment without a program on the interface; r2 is gone.
func TestAdoptMovesBackCrashedUpdate(t *testing.T) {
	m, root := setup(t)
	host, _, _, _ := testkernel.VethPair(t)
	running := apply(t, m, xdpCounter("r1", false, host))
	staging := filepath.Join(root, "uid-xdp", "~staging-r2")
	prog := loadPinned(t, xdpCounter("r2", true, host), filepath.Join(staging, "progs", "xdp_count"))
	crashedID := progID(t, prog)
	l, err := link.NewFromID(link.ID(sole(running).Links[host].ID))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Update(prog); err != nil {
		t.Fatal(err)
	}
	pinLink(t, l, filepath.Join(staging, "links", "xdp_count", host))

	again := apply(t, newManager(t, root), xdpCounter("r1", false, host))
	if sole(again).Links[host].ID != sole(running).Links[host].ID || sole(again).ID != sole(running).ID {
		t.Fatalf("after restart: %+v, want link %d moved back to program %d", again, sole(running).Links[host].ID, sole(running).ID)
	}
	info, err := l.Info()
	if err != nil || uint32(info.Program) != sole(running).ID {
		t.Fatalf("link %d runs program %v (%v), want %d", sole(running).Links[host].ID, info, err, sole(running).ID)
	}
	assertNotExist(t, staging)
	prog.Close()
	if err := eventuallyGone(programExists, crashedID); err != nil {
		t.Fatalf("the crashed install's program %d: %v, want unloaded", crashedID, err)
	}
}

func pinLink(t *testing.T, l link.Link, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Pin(path); err != nil {
		t.Fatal(err)
	}
}

func linkID(t *testing.T, l link.Link) uint32 {
	t.Helper()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	return uint32(info.ID)
}

func progID(t *testing.T, p *ebpf.Program) uint32 {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}
