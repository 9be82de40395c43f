package attach_test

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

var openat2 = attach.Kprobe{Function: "do_sys_openat2"}

// TestKprobe attaches and counts where the kernel has kprobes; where it has
// none (as on the machines this suite targets), TestKprobeUnsupported is the
// test of this node's path, and this one checks that the facility probe
// says why.
func TestKprobe(t *testing.T) {
	testkernel.Require(t)
	if err := attach.KprobeFacility(); err != nil {
		var unsupported *failure.Unsupported
		if !errors.As(err, &unsupported) {
			t.Fatalf("KprobeFacility: %v, want an *failure.Unsupported saying what is missing", err)
		}
		t.Logf("no kprobes here, as expected: %v", err)
		return
	}
	prog, calls := loadCounter(t, bpf.KprobeCounter, "kprobe_openat")
	a, err := openat2.Attach(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Link.Close()
	testkernel.OpenFiles(t, 5)
	if got := lookup(t, calls, 0); got < 5 {
		t.Fatalf("counted %d opens, want at least 5", got)
	}
}

// TestKprobeUnsupported checks that, on a kernel without kprobes, the
// attach error says so in a way callers classify as Unsupported.
func TestKprobeUnsupported(t *testing.T) {
	testkernel.Require(t)
	if attach.KprobeFacility() == nil {
		t.Log("this kernel has kprobes: TestKprobe covers it")
		return
	}
	for _, k := range []attach.Kprobe{openat2, {Function: "do_sys_openat2", Retprobe: true}} {
		a, err := k.Attach(program(t, ebpf.Kprobe))
		if err == nil {
			a.Link.Close()
			t.Fatalf("attached %s although KprobeFacility says the kernel has no kprobes", k)
		}
		var unsupported *failure.Unsupported
		if !errors.As(err, &unsupported) || !errors.Is(err, ebpf.ErrNotSupported) {
			t.Fatalf("%s: err = %v, want an *failure.Unsupported", k, err)
		}
		t.Logf("%s: %v", k, err)
	}
}

func TestKprobeValidate(t *testing.T) {
	for _, tc := range []struct {
		fn string
		ok bool
	}{
		{"do_sys_openat2", true},
		{"tcp_v4_connect", true},
		{"nf_hook_slow.cold", true},
		{"", false},
		{"1abc", false},
		{".cold", false},
		{"do sys", false},
		{"do_sys/openat2", false},
		{"do_sys_openat2:0", false},
		{"$x", false},
	} {
		if err := (attach.Kprobe{Function: tc.fn}).Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", tc.fn, err, tc.ok)
		}
	}
}
