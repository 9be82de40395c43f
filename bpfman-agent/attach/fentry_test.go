package attach_test

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestFentryPrepare(t *testing.T) {
	spec, err := loader.Spec(bpf.FentryCounter, "fentry_openat", nil)
	if err != nil {
		t.Fatal(err)
	}
	prog := spec.Programs["fentry_openat"]
	if err := (attach.Fentry{Function: "vfs_read", Exit: true}).Prepare(prog); err != nil {
		t.Fatal(err)
	}
	if prog.AttachTo != "vfs_read" || prog.AttachType != ebpf.AttachTraceFExit {
		t.Errorf("prepared spec attaches to %q as %v, want vfs_read as fexit", prog.AttachTo, prog.AttachType)
	}
	for _, f := range []attach.Fentry{{Function: ""}, {Function: "vfs.read"}, {Function: "a b"}} {
		if err := f.Prepare(prog); err == nil {
			t.Errorf("prepared for function %q", f.Function)
		}
	}
	if err := (attach.Fentry{Function: "vfs_read"}).Prepare(&ebpf.ProgramSpec{Type: ebpf.Kprobe}); err == nil {
		t.Error("prepared a kprobe program as fentry")
	}
}

// TestFentry loads and attaches the fentry and fexit counters where the
// kernel allows it, and otherwise checks that loading fails as
// Unsupported, which the machines this suite targets do (DESIGN.md).
func TestFentry(t *testing.T) {
	testkernel.Require(t)
	for _, tc := range []struct {
		program string
		spec    attach.Fentry
		key     uint32
	}{
		{"fentry_openat", attach.Fentry{Function: "do_sys_openat2"}, 0},
		{"fexit_openat", attach.Fentry{Function: "do_sys_openat2", Exit: true}, 1},
	} {
		t.Run(tc.spec.String(), func(t *testing.T) {
			objs, err := loadPrepared(t, tc.program, tc.spec)
			if err != nil {
				if reason := loader.Reason(err); reason != loader.ReasonUnsupported {
					t.Fatalf("load %s: reason %q, want Unsupported: %v", tc.spec, reason, err)
				}
				t.Logf("%s is Unsupported here, as expected: %v", tc.spec, err)
				return
			}
			defer objs.Close()
			a, err := tc.spec.Attach(objs.Program)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Link.Close()
			testkernel.OpenFiles(t, 5)
			if got := lookup(t, objs.Maps["calls"], tc.key); got < 5 {
				t.Fatalf("counted %d, want at least 5", got)
			}
		})
	}
}

func loadPrepared(t *testing.T, program string, f attach.Fentry) (*loader.Objects, error) {
	t.Helper()
	spec, err := loader.Spec(bpf.FentryCounter, program, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Prepare(spec.Programs[program]); err != nil {
		t.Fatal(err)
	}
	l, err := loader.New()
	if err != nil {
		t.Fatal(err)
	}
	return l.LoadSpec(spec, program)
}
