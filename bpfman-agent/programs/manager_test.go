package programs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestApplyCounts(t *testing.T) {
	m, root := setup(t)
	ld := apply(t, m, counter("uid-a", "r1"))
	if ld.Adopted || sole(ld).ID == 0 || sole(ld).Links["main"].ID == 0 || ld.PinDir != filepath.Join(root, "uid-a", "r1") {
		t.Fatalf("loaded = %+v", ld)
	}
	for _, name := range []string{"progs/count_openat", "links/count_openat/main", "maps/counts", "maps/total", "maps/-rodata"} {
		if _, err := os.Stat(filepath.Join(ld.PinDir, name)); err != nil {
			t.Errorf("pin %s: %v", name, err)
		}
	}
	before := testkernel.MapValue(t, ld.Maps["counts"], uint32(os.Getpid()))
	testkernel.OpenFiles(t, 10)
	if got := testkernel.MapValue(t, ld.Maps["counts"], uint32(os.Getpid())) - before; got < 10 {
		t.Errorf("counts[%d] grew by %d after 10 opens", os.Getpid(), got)
	}
	if total := testkernel.MapValue(t, ld.Maps["total"], uint32(0)); total < 10 {
		t.Errorf("total = %d after 10 opens", total)
	}
}

func TestAdoptAfterRestart(t *testing.T) {
	m, root := setup(t)
	first := apply(t, m, counter("uid-a", "r1"))

	restarted := newManager(t, root)
	installed, err := restarted.Installed()
	if err != nil || len(installed) != 1 || sole(installed[0]).Links["main"].ID != sole(first).Links["main"].ID {
		t.Fatalf("Installed() = %+v, %v; want the link of %+v", installed, err, first)
	}
	again := apply(t, restarted, counter("uid-a", "r1"))
	if !again.Adopted || sole(again).ID != sole(first).ID || sole(again).Links["main"].ID != sole(first).Links["main"].ID {
		t.Fatalf("after restart: %+v, want adoption of %+v", again, first)
	}
	if again.Maps["counts"] != first.Maps["counts"] || len(again.Maps) != len(first.Maps) {
		t.Errorf("adopted maps %v, want %v", again.Maps, first.Maps)
	}
	testkernel.OpenFiles(t, 3)
	if got := testkernel.MapValue(t, again.Maps["counts"], uint32(os.Getpid())); got < 3 {
		t.Errorf("adopted program does not count: %d", got)
	}
}

func TestNewRevisionReplaces(t *testing.T) {
	m, root := setup(t)
	old := apply(t, m, counter("uid-a", "r1"))
	p := counter("uid-a", "r2")
	p.GlobalData["increment"] = "100"
	cur := apply(t, m, p)
	if sole(cur).ID == sole(old).ID || sole(cur).Links["main"].ID == sole(old).Links["main"].ID {
		t.Fatalf("new revision reused IDs: old %+v new %+v", old, cur)
	}
	assertNotExist(t, filepath.Join(root, "uid-a", "r1"))
	assertGone(t, old)
	// The new revision took the old one's counts over; it adds 100 a call.
	carried := testkernel.MapValue(t, cur.Maps["counts"], uint32(os.Getpid()))
	testkernel.OpenFiles(t, 1)
	if got := testkernel.MapValue(t, cur.Maps["counts"], uint32(os.Getpid())) - carried; got < 100 || got%100 != 0 {
		t.Errorf("counts grew by %d, want multiples of the new increment 100", got)
	}
}

func TestRemove(t *testing.T) {
	m, root := setup(t)
	ld := apply(t, m, counter("uid-a", "r1"))
	if err := m.Remove("uid-a"); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, root)
	assertGone(t, ld)
	if err := m.Remove("uid-a"); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestPrune(t *testing.T) {
	m, root := setup(t)
	keep := apply(t, m, counter("uid-a", "r1"))
	drop := apply(t, m, counter("uid-b", "r1"))
	if err := os.MkdirAll(filepath.Join(root, "orphan", "r0"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.Prune(map[string]bool{"uid-a": true}); err != nil {
		t.Fatal(err)
	}
	assertNotExist(t, filepath.Join(root, "orphan"))
	assertNotExist(t, filepath.Join(root, "uid-b"))
	assertGone(t, drop)
	assertAlive(t, keep)
}

func TestVerifierRejected(t *testing.T) {
	m, root := setup(t)
	p := programs.Program{UID: "uid-r", Revision: programs.Revision{Code: "r1"}, Object: bpf.Reject,
		Programs: one("rejected", "r1", map[string]attach.Spec{"main": openat})}
	perr := applyErr(t, m, p, programs.ReasonVerifierRejected)
	if strings.TrimSpace(perr.VerifierLog) == "" || !programs.Terminal(perr) {
		t.Fatalf("error %+v: want a verifier log tail and Terminal", perr)
	}
	assertEmptyDir(t, root)
}

func TestBadGlobalData(t *testing.T) {
	m, root := setup(t)
	for name, globals := range map[string]map[string]string{
		"unknown variable": {"no_such_var": "1"},
		"wrong width hex":  {"filter_pid": "0x010203"},
		"out of range":     {"filter_pid": "4294967296"},
	} {
		t.Run(name, func(t *testing.T) {
			p := counter("uid-g", "r1")
			p.GlobalData = globals
			perr := applyErr(t, m, p, programs.ReasonInvalidGlobalData)
			t.Log(perr)
		})
	}
	assertEmptyDir(t, root)
}

func TestFailureKeepsRunningRevision(t *testing.T) {
	m, root := setup(t)
	running := apply(t, m, counter("uid-a", "r1"))

	badData := counter("uid-a", "r2")
	badData.GlobalData["increment"] = "-1"
	applyErr(t, m, badData, programs.ReasonInvalidGlobalData)

	badHook := counter("uid-a", "r3")
	badHook.Programs[0].Attach = map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_no_such_call"}}
	applyErr(t, m, badHook, programs.ReasonAttachFailed)

	wrongName := counter("uid-a", "r4")
	wrongName.Programs[0].Name = "count_closeat"
	applyErr(t, m, wrongName, programs.ReasonProgramNotFound)

	entries, _ := os.ReadDir(filepath.Join(root, "uid-a"))
	if len(entries) != 1 || entries[0].Name() != "r1" {
		t.Fatalf("uid-a holds %v, want only r1", entries)
	}
	assertAlive(t, running)
	again := apply(t, m, counter("uid-a", "r1"))
	if !again.Adopted || sole(again).Links["main"].ID != sole(running).Links["main"].ID {
		t.Fatalf("running revision not adopted: %+v", again)
	}
}

func TestWrongProgramType(t *testing.T) {
	m, root := setup(t)
	p := counter("uid-x", "r1")
	p.Programs[0].Attach = map[string]attach.Spec{"main": xdpStub{}}
	applyErr(t, m, p, programs.ReasonInvalidObject)
	assertEmptyDir(t, root)
}

func TestRejectsUnsafeNames(t *testing.T) {
	m, root := setup(t)
	for _, p := range []programs.Program{counter("../evil", "r1"), counter("uid", "a/b"), counter("uid", ""), counter("uid", "..")} {
		if _, err := m.Apply(t.Context(), p); err == nil {
			t.Errorf("Apply(%q, %q) accepted", p.UID, p.Revision)
		}
	}
	if err := m.Remove("../x"); err == nil {
		t.Error("Remove(../x) accepted")
	}
	assertEmptyDir(t, root)
}

func TestPrepareBeforeLoad(t *testing.T) {
	m, root := setup(t)
	var seen string
	p := counter("uid-p", "r1")
	p.Programs[0].Attach = map[string]attach.Spec{"main": preparing{Tracepoint: openat, seen: &seen, err: errors.New("no such function")}}
	applyErr(t, m, p, programs.ReasonInvalidObject)
	if seen != "count_openat" {
		t.Fatalf("Prepare saw spec %q, want count_openat", seen)
	}
	assertEmptyDir(t, root)
	p.Programs[0].Attach = map[string]attach.Spec{"main": preparing{Tracepoint: openat, seen: &seen}}
	apply(t, m, p)
}
