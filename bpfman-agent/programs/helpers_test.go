package programs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

var openat = attach.Tracepoint{Group: "syscalls", Name: "sys_enter_openat"}

// setup returns a Manager on a private bpffs, and its root.
func setup(t testing.TB) (*programs.Manager, string) {
	t.Helper()
	testkernel.Require(t)
	root := filepath.Join(testkernel.TempBPFFS(t), "bpfleet")
	return newManager(t, root), root
}

func newManager(t testing.TB, root string) *programs.Manager {
	t.Helper()
	m, err := programs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// counter is the counter program counting this process's openat calls.
func counter(uid, rev string) programs.Program {
	return programs.Program{
		UID:        uid,
		Revision:   programs.ParseRevision(rev),
		Object:     bpf.TracepointCounter,
		GlobalData: map[string]string{"filter_pid": strconv.Itoa(os.Getpid())},
		Programs:   one("count_openat", rev, map[string]attach.Spec{"main": openat}),
	}
}

// one is the Programs of a single program kind: name on targets, with the
// link key a single kind's revision carries (its Links part).
func one(name, rev string, targets map[string]attach.Spec) []programs.Attachment {
	return []programs.Attachment{{Name: name, LinkKey: programs.ParseRevision(rev).Links, Attach: targets}}
}

// sole is the one program of ld, a single program kind's revision.
func sole(ld programs.Loaded) programs.LoadedProgram {
	if len(ld.Programs) != 1 {
		panic(fmt.Sprintf("%s/%s runs %d programs, want one", ld.UID, ld.Revision, len(ld.Programs)))
	}
	for _, lp := range ld.Programs {
		return lp
	}
	return programs.LoadedProgram{}
}

func apply(t testing.TB, m *programs.Manager, p programs.Program) programs.Loaded {
	t.Helper()
	ld, err := m.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply %s/%s: %v", p.UID, p.Revision, err)
	}
	return ld
}

func applyErr(t *testing.T, m *programs.Manager, p programs.Program, reason string) *programs.Error {
	t.Helper()
	_, err := m.Apply(context.Background(), p)
	var perr *programs.Error
	if !errors.As(err, &perr) || perr.Reason != reason {
		t.Fatalf("apply %s/%s: err = %v, want reason %s", p.UID, p.Revision, err, reason)
	}
	return perr
}

func assertAlive(t *testing.T, ld programs.Loaded) {
	t.Helper()
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(sole(ld).ID))
	if err != nil {
		t.Fatalf("program %d: %v", sole(ld).ID, err)
	}
	p.Close()
	for key, li := range sole(ld).Links {
		l, err := link.NewFromID(link.ID(li.ID))
		if err != nil {
			t.Fatalf("link %s %d: %v", key, li.ID, err)
		}
		l.Close()
	}
}

// assertGone waits briefly for the kernel to release ld's link and program.
func assertGone(t *testing.T, ld programs.Loaded) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		linkErr, progErr := linkExists(sole(ld).Links["main"].ID), programExists(sole(ld).ID)
		if errors.Is(linkErr, os.ErrNotExist) && errors.Is(progErr, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("link %d (%v) or program %d (%v) still in the kernel", sole(ld).Links["main"].ID, linkErr, sole(ld).ID, progErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventuallyGone waits up to 2s for exists(id) to say the kernel released
// the object (it does so asynchronously) and returns its last answer
// otherwise.
func eventuallyGone(exists func(uint32) error, id uint32) error {
	var err error
	for range 200 {
		if err = exists(id); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		err = errors.New("still there")
	}
	return err
}

func linkExists(id uint32) error {
	l, err := link.NewFromID(link.ID(id))
	if err == nil {
		l.Close()
	}
	return err
}

func programExists(id uint32) error {
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err == nil {
		p.Close()
	}
	return err
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("%s: %v %v, want empty", dir, entries, err)
	}
}

func assertNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still exists (%v)", path, err)
	}
}

// tcxHere reports whether this kernel has TCX links, as the agent's probe
// of the hook says. Where it has none (Linux before 6.6, e.g. Debian's
// 6.1), it checks what such a node does with p, which attaches a program
// with TCX, and the calling test stands for that path: Apply fails as
// Unsupported, for good (the agent does not retry it), and leaves none of
// p's revision pinned under root.
func tcxHere(t *testing.T, m *programs.Manager, root string, p programs.Program) bool {
	t.Helper()
	hook, err := attach.Lookup(bpfleetv1.HookTCX)
	if err != nil {
		t.Fatal(err)
	}
	probeErr := hook.Probe()
	if probeErr == nil {
		return true
	}
	if attach.Inconclusive(probeErr) {
		t.Fatalf("probe of TCX: %v; want a definitive reason", probeErr)
	}
	perr := applyErr(t, m, p, programs.ReasonUnsupported)
	if !programs.Terminal(perr) {
		t.Errorf("apply %s/%s: %v is retried; want it terminal", p.UID, p.Revision, perr)
	}
	assertNotExist(t, filepath.Join(root, p.UID, p.Revision.String()))
	t.Logf("no TCX on this kernel (probe: %v): apply is Unsupported: %v", probeErr, perr)
	return false
}
