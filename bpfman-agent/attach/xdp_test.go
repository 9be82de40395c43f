package attach_test

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestXDPCountsAndDrops attaches the XDP counter to the host end of a
// veth, pings it, then swaps in a build that drops ICMP with link.Update.
func TestXDPCountsAndDrops(t *testing.T) {
	testkernel.Require(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	for _, mode := range []string{attach.XDPGeneric, attach.XDPAuto} {
		t.Run(mode, func(t *testing.T) {
			spec := attach.XDP{Interface: host, Mode: mode}
			pass := load(t, bpf.XDPCounter, "xdp_count", nil)
			a, err := spec.Attach(pass.Program)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Link.Close()
			t.Logf("%s attached with %s", spec, a.Detail)
			assertDetail(t, spec, a)
			if got := testkernel.Ping(t, ns, hostIP, 3); got != 3 {
				t.Fatalf("%d of 3 pings answered through the counting program", got)
			}
			if n := lookup(t, pass.Maps["packets"], 0); n < 3 {
				t.Fatalf("counted %d packets, want at least 3", n)
			}
			drop := load(t, bpf.XDPCounter, "xdp_count", map[string]string{"drop_icmp": "1"})
			if err := a.Link.Update(drop.Program); err != nil {
				t.Fatalf("update xdp link: %v", err)
			}
			if got := testkernel.Ping(t, ns, hostIP, 2); got != 0 {
				t.Fatalf("%d pings answered through the dropping program", got)
			}
			if n := lookup(t, drop.Maps["packets"], 0); n < 2 {
				t.Fatalf("dropping program counted %d packets, want at least 2", n)
			}
		})
	}
}

func TestXDPMode(t *testing.T) {
	testkernel.Require(t)
	host, _, _, _ := testkernel.VethPair(t)
	a, err := attach.XDP{Interface: host, Mode: attach.XDPGeneric}.Attach(program(t, ebpf.XDP))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Link.Close()
	if a.Detail != "mode=generic" {
		t.Fatalf("detail %q, want mode=generic", a.Detail)
	}
	// A second program cannot take the same hook in the same mode.
	if b, err := (attach.XDP{Interface: host, Mode: attach.XDPGeneric}).Attach(program(t, ebpf.XDP)); err == nil {
		b.Link.Close()
		t.Fatal("attached two XDP links in generic mode to one interface")
	}
}

func TestXDPInvalid(t *testing.T) {
	for _, x := range []attach.XDP{
		{Interface: "", Mode: attach.XDPAuto},
		{Interface: "a/b"},
		{Interface: "averyveryverylongname"},
		{Interface: "lo", Mode: "offload"},
	} {
		if err := x.Validate(); err == nil {
			t.Errorf("%+v: valid", x)
		}
	}
	testkernel.Require(t)
	if a, err := (attach.XDP{Interface: "bpfnosuchif0"}).Attach(program(t, ebpf.XDP)); err == nil {
		a.Link.Close()
		t.Fatal("attached to an interface that does not exist")
	}
}

// load loads program from obj with globals, closing it at the end of t.
func load(t *testing.T, obj []byte, program string, globals map[string]string) *loader.Objects {
	t.Helper()
	l, err := loader.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := l.Load(obj, program, globals)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	return objs
}

// assertDetail checks that Describe says again what Attach said.
func assertDetail(t *testing.T, spec attach.Spec, a attach.Attachment) {
	t.Helper()
	if again := attach.Detail(spec, a.Link, "none"); again != a.Detail || a.Detail == "" {
		t.Fatalf("Describe says %q, Attach said %q", again, a.Detail)
	}
	if strings.Contains(spec.String(), "xdp") && !strings.HasPrefix(a.Detail, "mode=") {
		t.Fatalf("xdp detail %q", a.Detail)
	}
}
