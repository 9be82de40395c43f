package loader_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

func TestLoadCounter(t *testing.T) {
	testkernel.Require(t)
	objs := load(t, bpf.TracepointCounter, "count_openat", map[string]string{"filter_pid": "7"})
	defer objs.Close()
	if objs.Program.Type() != ebpf.TracePoint {
		t.Errorf("program type %v", objs.Program.Type())
	}
	for _, name := range []string{"counts", "total", ".rodata"} {
		if objs.Maps[name] == nil {
			t.Errorf("map %s not loaded (have %v)", name, objs.Maps)
		}
	}
	if len(objs.Maps) != 3 {
		t.Errorf("loaded maps %v, want exactly counts, total, .rodata", objs.Maps)
	}
}

func TestVerifierRejected(t *testing.T) {
	testkernel.Require(t)
	l := newLoader(t)
	_, err := l.Load(bpf.Reject, "rejected", nil)
	var lerr *loader.Error
	if !errors.As(err, &lerr) || lerr.Reason != loader.ReasonVerifierRejected {
		t.Fatalf("err = %v, want VerifierRejected", err)
	}
	if lines := strings.Count(lerr.VerifierLog, "\n") + 1; lerr.VerifierLog == "" || lines > 25 {
		t.Fatalf("verifier log tail has %d lines: %q", lines, lerr.VerifierLog)
	}
	if !strings.Contains(lerr.VerifierLog, "invalid access to map value") {
		t.Errorf("verifier log does not say why:\n%s", lerr.VerifierLog)
	}
	t.Logf("message: %s\nlog:\n%s", lerr.Message, lerr.VerifierLog)
}

// TestUnsupportedProgramType loads programs of types some kernels lack:
// LSM, which this VM's 6.18 refuses (EPERM), and Netfilter, which Linux
// before 6.4 does not know (EINVAL; Debian's 6.1). A kernel must load
// each or refuse it as Unsupported, never LoadFailed (the agent would
// retry). A kernel that loads both (Debian's 6.12) shows the other side:
// they load.
func TestUnsupportedProgramType(t *testing.T) {
	testkernel.Require(t)
	trivial := func(typ ebpf.ProgramType, at ebpf.AttachType, to string) *ebpf.ProgramSpec {
		return &ebpf.ProgramSpec{Name: "prog", Type: typ, AttachType: at, AttachTo: to, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}
	}
	for _, ps := range []*ebpf.ProgramSpec{
		trivial(ebpf.LSM, ebpf.AttachLSMMac, "file_open"),
		trivial(ebpf.Netfilter, ebpf.AttachNetfilter, ""),
	} {
		t.Run(ps.Type.String(), func(t *testing.T) {
			spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"prog": ps}}
			objs, err := newLoader(t).LoadSpec(spec, "prog")
			if err == nil {
				defer objs.Close()
				if objs.Program.Type() != ps.Type {
					t.Fatalf("loaded a %s program, want %s", objs.Program.Type(), ps.Type)
				}
				t.Logf("this kernel loads %s programs", ps.Type)
				return
			}
			if loader.Reason(err) != loader.ReasonUnsupported {
				t.Fatalf("err = %v, want reason Unsupported", err)
			}
			t.Logf("this kernel refuses %s programs: %v", ps.Type, err)
		})
	}
}

func newLoader(t *testing.T) *loader.Loader {
	t.Helper()
	l, err := loader.New()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func load(t *testing.T, obj []byte, program string, globals map[string]string) *loader.Objects {
	t.Helper()
	objs, err := newLoader(t).Load(obj, program, globals)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
