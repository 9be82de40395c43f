package attach

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

var (
	_ Spec     = LSM{}
	_ Preparer = LSM{}
)

var _ = register(hook[bpfleetv1.LsmAttach]{
	name:  bpfleetv1.HookLSM,
	probe: probeLSM,
	plan: func(s bpfleetv1.LsmAttach, _ *Facts) (Plan, error) {
		return Single(LSM{Hook: s.Hook}), nil
	},
})

// trialLSMHook is the hook a probe loads its trial LSM program for (it
// does not attach it).
const trialLSMHook = "file_open"

// LSM is a Linux Security Module hook, run through BPF LSM: the program's
// return value is the hook's verdict (0 allows). The hook is fixed when
// the program loads, so the loader must call Prepare on the program's
// spec first.
type LSM struct {
	Hook string
}

// Validate checks Hook, an LSM hook's name.
func (l LSM) Validate() error {
	return checkSymbol("LSM hook", l.Hook, "", "")
}

// ProgramType implements Spec.
func (LSM) ProgramType() ebpf.ProgramType { return ebpf.LSM }

// Prepare implements Preparer: it points spec at Hook, whatever its ELF
// section said (cilium/ebpf finds the kernel's bpf_lsm_<hook>).
func (l LSM) Prepare(spec *ebpf.ProgramSpec) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if spec.Type != ebpf.LSM {
		return fmt.Errorf("%s needs an %s program, not %s", l, ebpf.LSM, spec.Type)
	}
	spec.AttachTo = l.Hook
	spec.AttachType = ebpf.AttachLSMMac
	return nil
}

// Attach implements Spec. prog must have been loaded from a spec that
// Prepare prepared.
func (l LSM) Attach(prog *ebpf.Program) (Attachment, error) {
	if err := l.Validate(); err != nil {
		return Attachment{}, err
	}
	ln, err := link.AttachLSM(link.LSMOptions{Program: prog})
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", l, err)
	}
	return Attachment{Link: ln, Detail: l.String()}, nil
}

func (l LSM) String() string { return "lsm " + l.Hook }

// probeLSM checks that BPF LSM runs programs here: "bpf" is among the
// kernel's active LSMs (securityfs, which it mounts if needed, lists
// them; a kernel built with CONFIG_BPF_LSM loads LSM programs even where
// they never run), and an LSM program loads.
func probeLSM() error {
	if _, err := btf.LoadKernelSpec(); err != nil {
		return probeFailed("LSM programs need kernel BTF", err)
	}
	active, err := activeLSMs()
	if err != nil {
		return err
	}
	if !slices.Contains(active, "bpf") {
		return fmt.Errorf("BPF LSM is not active (active LSMs: %s; it needs CONFIG_BPF_LSM and bpf in the lsm= boot parameter)", strings.Join(active, ","))
	}
	err = withProgram(ebpf.LSM, ebpf.AttachLSMMac, func(*ebpf.Program) error { return nil })
	if err != nil {
		return probeFailed("loading LSM programs fails", err)
	}
	return nil
}

// activeLSMs lists the kernel's active LSMs, in order.
func activeLSMs() ([]string, error) {
	if err := pins.EnsureSecurityfs(); err != nil {
		return nil, probeFailed("the active LSMs are unknown", err)
	}
	b, err := os.ReadFile(filepath.Join(pins.SecurityfsPath, "lsm"))
	if err != nil {
		return nil, probeFailed("the active LSMs are unknown", err)
	}
	return strings.Split(strings.TrimSpace(string(b)), ","), nil
}
