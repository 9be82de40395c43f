package attach_test

import (
	"testing"

	"github.com/cilium/ebpf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestLSMPrepare(t *testing.T) {
	spec, err := loader.Spec(bpf.LSMCounter, "lsm_file_open", nil)
	if err != nil {
		t.Fatal(err)
	}
	prog := spec.Programs["lsm_file_open"]
	if err := (attach.LSM{Hook: "bprm_check_security"}).Prepare(prog); err != nil {
		t.Fatal(err)
	}
	if prog.AttachTo != "bprm_check_security" || prog.AttachType != ebpf.AttachLSMMac {
		t.Errorf("prepared spec attaches to %q as %v, want bprm_check_security as %v", prog.AttachTo, prog.AttachType, ebpf.AttachLSMMac)
	}
	for _, l := range []attach.LSM{{Hook: ""}, {Hook: "file.open"}, {Hook: "a b"}, {Hook: "../x"}} {
		if err := l.Prepare(prog); err == nil {
			t.Errorf("prepared for hook %q", l.Hook)
		}
	}
	if err := (attach.LSM{Hook: "file_open"}).Prepare(&ebpf.ProgramSpec{Type: ebpf.Tracing}); err == nil {
		t.Error("prepared a tracing program as LSM")
	}
}

// TestLSM attaches the LSM counter to file_open and counts real opens,
// where the agent's probe finds BPF LSM active (Debian's kernels booted
// with lsm=...,bpf by hack/vmkernel). Where it does not (this VM refuses
// LSM loads), TestConformance checks that the kernel refuses the program
// as the probe says.
func TestLSM(t *testing.T) {
	testkernel.Require(t)
	h, err := attach.Lookup(bpfleetv1.HookLSM)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Probe(); err != nil {
		if attach.Inconclusive(err) {
			t.Fatalf("LSM probe inconclusive: %v", err)
		}
		t.Logf("BPF LSM is Unsupported here, as the agent's probe says: %v", err)
		return
	}
	spec, err := loader.Spec(bpf.LSMCounter, "lsm_file_open", nil)
	if err != nil {
		t.Fatal(err)
	}
	hook := attach.LSM{Hook: "file_open"}
	if err := hook.Prepare(spec.Programs["lsm_file_open"]); err != nil {
		t.Fatal(err)
	}
	l, err := loader.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := l.LoadSpec(spec, "lsm_file_open")
	if err != nil {
		t.Fatalf("load: %v (the probe found BPF LSM active)", err)
	}
	defer objs.Close()
	a, err := hook.Attach(objs.Program)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Link.Close()
	testkernel.OpenFiles(t, 5)
	if got := lookup(t, objs.Maps["counts"], 0); got < 5 {
		t.Fatalf("counted %d opens, want at least 5", got)
	}
}
