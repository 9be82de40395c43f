package probe_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

// TestKernel checks the probe against what the kernel does, checked
// another way: tracepoints, XDP, cgroups and uprobes everywhere; TCX from
// Linux 6.6 (Debian's 6.1 lacks it); kprobes where the kernel has the
// facility (this VM's 6.18 does not); fentry/fexit where a load works
// (this VM refuses it with EPERM, Debian's kernels load them). Its
// duration is logged: under qemu's TCG it takes seconds.
func TestKernel(t *testing.T) {
	testkernel.Require(t)
	before := probeEvents(t)
	start := time.Now()
	r := probe.Kernel()
	t.Logf("probe took %v: %+v", time.Since(start), r)
	if r.KernelRelease == "" || !r.BTF {
		t.Errorf("release %q, BTF %v: want a release and BTF", r.KernelRelease, r.BTF)
	}
	for _, hook := range []string{bpfleetv1.HookTracepoint, bpfleetv1.HookXDP, bpfleetv1.HookCgroup, bpfleetv1.HookUprobe} {
		if why, ok := r.Hooks[hook]; !ok || why != "" {
			t.Errorf("hook %s: reported %v, reason %q; want supported", hook, ok, why)
		}
	}
	wantTCX := "kernel lacks TCX (Linux 6.6+)"
	if atLeast(t, 6, 6) {
		wantTCX = ""
	}
	if why, ok := r.Hooks[bpfleetv1.HookTCX]; !ok || why != wantTCX {
		t.Errorf("hook TCX: reported %v, reason %q; want %q", ok, why, wantTCX)
	}
	wantKprobe := "kernel lacks kprobes"
	if attach.KprobeFacility() == nil {
		wantKprobe = ""
	}
	if why := r.Hooks[bpfleetv1.HookKprobe]; !strings.HasPrefix(why, wantKprobe) || (why == "") != (wantKprobe == "") {
		t.Errorf("hook Kprobe: reason %q, want %q...", why, wantKprobe)
	}
	for hook, at := range map[string]ebpf.AttachType{bpfleetv1.HookFentry: ebpf.AttachTraceFEntry, bpfleetv1.HookFexit: ebpf.AttachTraceFExit} {
		want := ""
		if err := loadTracing(at); err != nil {
			want = "loading " + strings.ToLower(hook) + " programs fails: " + errors.Unwrap(err).Error()
		}
		if why := r.Hooks[hook]; why != want {
			t.Errorf("hook %s: reason %q, want %q", hook, why, want)
		}
	}
	if after := probeEvents(t); after != before {
		t.Errorf("probe left trace events behind:\n%s\nwas:\n%s", after, before)
	}
}

// loadTracing loads and closes a trivial fentry or fexit program on the
// kernel's bpf_fentry_test1; its error wraps the kernel's errno.
func loadTracing(at ebpf.AttachType) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.Tracing, AttachType: at, AttachTo: "bpf_fentry_test1", License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return fmt.Errorf("load: %w", errno)
		}
		return fmt.Errorf("load: %w", err)
	}
	return prog.Close()
}

// atLeast reports whether the running kernel's release is at least
// major.minor.
func atLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var a, b int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &a, &b); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release, err)
	}
	return a > major || a == major && b >= minor
}

func TestCapabilities(t *testing.T) {
	r := probe.Result{KernelRelease: "6.18", BTF: true, Hooks: map[string]string{
		bpfleetv1.HookXDP: "", bpfleetv1.HookKprobe: "kernel lacks kprobes", bpfleetv1.HookTracepoint: "",
	}}
	c := r.Capabilities()
	if c.KernelRelease != "6.18" || !c.BTF || len(c.Hooks) != 3 {
		t.Fatalf("capabilities %+v", c)
	}
	if c.Hooks[0].Name != bpfleetv1.HookKprobe || c.Hooks[0].Supported || c.Unsupported(bpfleetv1.HookKprobe) != "kernel lacks kprobes" {
		t.Errorf("hooks not sorted or Kprobe lost its reason: %+v", c.Hooks)
	}
	if c.Unsupported(bpfleetv1.HookXDP) != "" {
		t.Errorf("XDP reported unsupported: %+v", c.Hooks)
	}
	if got := strings.Join(r.Supported(), ","); got != "Tracepoint,XDP" {
		t.Errorf("Supported() = %s", got)
	}
}

// probeEvents is the content of tracefs's probe event lists, where a
// leaked kprobe or uprobe would show.
func probeEvents(t *testing.T) string {
	t.Helper()
	var out string
	for _, name := range []string{"kprobe_events", "uprobe_events"} {
		data, err := os.ReadFile("/sys/kernel/tracing/" + name)
		if err == nil {
			out += name + ":\n" + string(data)
		}
	}
	return out
}
