package probe_test

import (
	"os"
	"strings"
	"testing"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

// TestKernel checks the probe on the machines this suite targets
// (DESIGN.md): tracepoints, XDP, TCX and uprobes work; kprobes are absent
// and fentry/fexit loads fail with EPERM.
func TestKernel(t *testing.T) {
	testkernel.Require(t)
	before := probeEvents(t)
	start := time.Now()
	r := probe.Kernel()
	took := time.Since(start)
	t.Logf("probe took %v: %+v", took, r)
	if took > time.Second {
		t.Errorf("probe took %v, want well under a second", took)
	}
	if r.KernelRelease == "" || !r.BTF {
		t.Errorf("release %q, BTF %v: want a release and BTF", r.KernelRelease, r.BTF)
	}
	for _, hook := range []string{bpfleetv1.HookTracepoint, bpfleetv1.HookXDP, bpfleetv1.HookTCX, bpfleetv1.HookUprobe} {
		if why, ok := r.Hooks[hook]; !ok || why != "" {
			t.Errorf("hook %s: reported %v, reason %q; want supported", hook, ok, why)
		}
	}
	wantKprobe := "kernel lacks kprobes"
	if attach.KprobeFacility() == nil {
		wantKprobe = ""
	}
	if why := r.Hooks[bpfleetv1.HookKprobe]; !strings.HasPrefix(why, wantKprobe) || (why == "") != (wantKprobe == "") {
		t.Errorf("hook Kprobe: reason %q, want %q...", why, wantKprobe)
	}
	for _, hook := range []string{bpfleetv1.HookFentry, bpfleetv1.HookFexit} {
		want := "loading " + strings.ToLower(hook) + " programs fails: operation not permitted"
		if why := r.Hooks[hook]; why != want {
			t.Errorf("hook %s: reason %q, want %q (if this kernel runs %s programs, "+
				"the Unsupported path is untested here)", hook, why, want, hook)
		}
	}
	if after := probeEvents(t); after != before {
		t.Errorf("probe left trace events behind:\n%s\nwas:\n%s", after, before)
	}
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
