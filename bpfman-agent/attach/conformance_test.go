package attach_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

// mayLack names the hooks a test machine's kernel may lack (DESIGN.md:
// this VM has no kprobes and refuses fentry/fexit/LSM loads; Debian's
// kernels in qemu have them, BPF LSM active with lsm=...,bpf, but 6.1 has
// no TCX). Any other hook whose probe fails fails the test.
var mayLack = map[string]bool{
	bpfleetv1.HookKprobe: true, bpfleetv1.HookFentry: true, bpfleetv1.HookFexit: true, bpfleetv1.HookTCX: true,
	bpfleetv1.HookLSM: true,
}

// conformance gives, for each hook, settings and node facts that plan at
// least one target on this machine (creating what it needs, e.g. a veth).
var conformance = map[string]func(t *testing.T) (bpfleetv1.AttachPoint, *attach.Facts){
	bpfleetv1.HookTracepoint: func(*testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}), nil
	},
	bpfleetv1.HookXDP: func(t *testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		host, facts := veth(t)
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookXDP, bpfleetv1.XDPAttach{
			Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{host}}, Mode: bpfleetv1.XDPGeneric}), facts
	},
	bpfleetv1.HookTCX: func(t *testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		host, facts := veth(t)
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookTCX, bpfleetv1.TCXAttach{
			Interfaces: bpfleetv1.InterfaceSelector{Regex: "^" + string(host) + "$"}, Direction: bpfleetv1.TCXIngress}), facts
	},
	bpfleetv1.HookUprobe: func(t *testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		path, _ := testkernel.TargetBinary(t)
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookUprobe, bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: path, Function: testkernel.TargetFunction}}), nil
	},
	bpfleetv1.HookCgroup: func(t *testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		path, facts := tempCgroup(t)
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookCgroup, bpfleetv1.CgroupAttach{Path: path, Type: "egress"}), facts
	},
	bpfleetv1.HookKprobe: func(*testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookKprobe, bpfleetv1.KprobeAttach{Function: "do_sys_openat2"}), nil
	},
	bpfleetv1.HookFentry: func(*testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookFentry, bpfleetv1.FentryAttach{Function: "do_sys_openat2"}), nil
	},
	bpfleetv1.HookFexit: func(*testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookFexit, bpfleetv1.FentryAttach{Function: "do_sys_openat2"}), nil
	},
	bpfleetv1.HookLSM: func(*testing.T) (bpfleetv1.AttachPoint, *attach.Facts) {
		return bpfleetv1.NewAttachPoint(bpfleetv1.HookLSM, bpfleetv1.LsmAttach{Hook: "file_open"}), nil
	},
}

// veth makes a veth pair and returns its host end, with the facts that
// list it.
func veth(t *testing.T) (bpfleetv1.InterfaceName, *attach.Facts) {
	host, _, _, _ := testkernel.VethPair(t)
	return bpfleetv1.InterfaceName(host), &attach.Facts{Interfaces: []string{host}}
}

// TestConformance runs every registered hook through the agent's life
// cycle: plan from its settings, then, per target, testSpec. A hook
// without a case fails; on a hook this kernel lacks (mayLack only), the
// unsupported path is checked instead: the probe says why, for good, and
// the kernel really refuses the program on every planned target.
func TestConformance(t *testing.T) {
	testkernel.Require(t)
	for _, h := range attach.All() {
		t.Run(h.Name(), func(t *testing.T) {
			settingsFor, ok := conformance[h.Name()]
			if !ok {
				t.Fatalf("hook %s has no conformance case", h.Name())
			}
			probeErr := h.Probe()
			if probeErr != nil && !mayLack[h.Name()] {
				t.Fatalf("probe of %s: %v; this kernel should have it", h.Name(), probeErr)
			}
			settings, facts := settingsFor(t)
			if facts == nil {
				facts = &attach.Facts{}
			}
			plan, err := h.Plan(settings, facts)
			if err != nil || len(plan.Targets) == 0 {
				t.Fatalf("plan %s: %d targets, %v", h.Name(), len(plan.Targets), err)
			}
			if _, err := h.LinkKey(settings); err != nil {
				t.Fatalf("link key: %v", err)
			}
			for key, spec := range plan.Targets {
				if probeErr != nil {
					t.Run(key, func(t *testing.T) { testRefused(t, spec, probeErr) })
					continue
				}
				t.Run(key, func(t *testing.T) { testSpec(t, spec) })
			}
		})
	}
}

// testSpec runs the life cycle every attacher must support: attach, pin,
// adopt from the pin after a "restart", update to a new program, detach,
// and no pin or kernel object left behind.
func testSpec(t *testing.T, spec attach.Spec) {
	testkernel.Require(t)
	if spec.String() == "" {
		t.Error("String() is empty")
	}
	dir := filepath.Join(testkernel.TempBPFFS(t), "pins")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	first := programFor(t, spec)
	linkID := attachAndPin(t, spec, first, filepath.Join(dir, "link"))
	adopted := adopt(t, filepath.Join(dir, "link"), linkID)

	second := programFor(t, spec)
	ids := update(t, spec, adopted, second, dir)
	adopted.Close()

	for _, name := range []string{"link", "link2"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	assertEmpty(t, dir)
	for _, id := range ids {
		assertLinkGone(t, id)
	}
}

// program loads a program of type typ that returns 0.
func program(t *testing.T, typ ebpf.ProgramType) *ebpf.Program {
	t.Helper()
	return loadTrivial(t, trivial(typ))
}

// programFor loads a program that returns 0, for spec's hook.
// testRefused checks the path of a hook the probe found missing
// (probeErr): the reason is definitive, not an inconclusive probe, and
// the kernel refuses a program for spec, at load or at attach.
func testRefused(t *testing.T, spec attach.Spec, probeErr error) {
	if attach.Inconclusive(probeErr) || probeErr.Error() == "" {
		t.Fatalf("probe: %v; want a definitive reason", probeErr)
	}
	prog, err := ebpf.NewProgram(trivialFor(t, spec))
	if err != nil {
		t.Logf("%s: the kernel refuses the load, as its probe said (%v): %v", spec, probeErr, err)
		return
	}
	defer prog.Close()
	a, err := spec.Attach(prog)
	if err == nil {
		a.Link.Close()
		t.Fatalf("%s attached, but its probe said: %v", spec, probeErr)
	}
	t.Logf("%s: the kernel refuses the attach, as its probe said (%v): %v", spec, probeErr, err)
}

func programFor(t *testing.T, spec attach.Spec) *ebpf.Program {
	t.Helper()
	return loadTrivial(t, trivialFor(t, spec))
}

// trivialFor is a program that returns 0, for spec's hook.
func trivialFor(t *testing.T, spec attach.Spec) *ebpf.ProgramSpec {
	t.Helper()
	ps := trivial(spec.ProgramType())
	if p, ok := spec.(attach.Preparer); ok {
		if err := p.Prepare(ps); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// trivial is a program of type typ that returns 0.
func trivial(typ ebpf.ProgramType) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Type: typ, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}
}

func loadTrivial(t *testing.T, ps *ebpf.ProgramSpec) *ebpf.Program {
	t.Helper()
	prog, err := ebpf.NewProgram(ps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

func attachAndPin(t *testing.T, spec attach.Spec, prog *ebpf.Program, path string) link.ID {
	t.Helper()
	a, err := spec.Attach(prog)
	if err != nil {
		t.Fatalf("attach %s: %v", spec, err)
	}
	if a.Detail == "" {
		t.Errorf("attach %s: empty Detail", spec)
	}
	l := a.Link
	defer l.Close()
	if err := l.Pin(path); err != nil {
		t.Fatalf("pin %s: %v", spec, err)
	}
	return linkID(t, l)
}

// adopt loads a pinned link the way a restarted agent does.
func adopt(t *testing.T, path string, want link.ID) link.Link {
	t.Helper()
	l, err := link.LoadPinnedLink(path, nil)
	if err != nil {
		t.Fatalf("adopt pinned link: %v", err)
	}
	if got := linkID(t, l); got != want {
		t.Fatalf("adopted link ID %d, want %d", got, want)
	}
	return l
}

// update moves old to prog: in place where the hook supports it, else by
// attaching a second link before detaching the first (what the agent
// does). It returns the IDs of every link it saw.
func update(t *testing.T, spec attach.Spec, old link.Link, prog *ebpf.Program, dir string) []link.ID {
	t.Helper()
	ids := []link.ID{linkID(t, old)}
	err := old.Update(prog)
	if errors.Is(err, ebpf.ErrNotSupported) {
		ids = append(ids, attachAndPin(t, spec, prog, filepath.Join(dir, "link2")))
		return ids
	}
	if err != nil {
		t.Fatalf("update %s: %v", spec, err)
	}
	info, err := old.Info()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Program, progID(t, prog); got != want {
		t.Fatalf("link runs program %d after update, want %d", got, want)
	}
	return ids
}

func linkID(t *testing.T, l link.Link) link.ID {
	t.Helper()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

func progID(t *testing.T, p *ebpf.Program) ebpf.ProgramID {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) > 0 {
		t.Fatalf("pins left in %s: %v %v", dir, entries, err)
	}
}

func assertLinkGone(t *testing.T, id link.ID) {
	t.Helper()
	l, err := link.NewFromID(id)
	if err == nil {
		l.Close()
		t.Fatalf("link %d still in the kernel after detach", id)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link %d: %v, want not-exist", id, err)
	}
}
