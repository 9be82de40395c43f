package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

var _ Spec = Kprobe{}

var _ = register(hook[bpfleetv1.KprobeAttach]{
	name:  bpfleetv1.HookKprobe,
	probe: probeKprobe,
	plan: func(s bpfleetv1.KprobeAttach, _ *Facts) (Plan, error) {
		return Single(Kprobe{Function: s.Function, Offset: uint64(s.Offset), Retprobe: s.Retprobe}), nil
	},
})

// Kprobe is a kernel function, probed on entry (at Offset bytes into it)
// or on return.
type Kprobe struct {
	Function string
	Offset   uint64
	Retprobe bool
}

// Validate checks Function before it reaches tracefs or perf_event_open.
func (k Kprobe) Validate() error {
	return checkSymbol("kprobe function", k.Function, "", ".")
}

// ProgramType implements Spec.
func (Kprobe) ProgramType() ebpf.ProgramType { return ebpf.Kprobe }

// Attach implements Spec. On a kernel without kprobes the error holds an
// *failure.Unsupported.
func (k Kprobe) Attach(prog *ebpf.Program) (Attachment, error) {
	if err := k.Validate(); err != nil {
		return Attachment{}, err
	}
	attachFn := link.Kprobe
	if k.Retprobe {
		attachFn = link.Kretprobe
	}
	l, err := attachFn(k.Function, prog, &link.KprobeOptions{Offset: k.Offset})
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", k, explain(err, KprobeFacility))
	}
	return Attachment{Link: l, Detail: k.String()}, nil
}

func (k Kprobe) String() string {
	kind := "kprobe "
	if k.Retprobe {
		kind = "kretprobe "
	}
	return kind + k.Function + "+" + strconv.FormatUint(k.Offset, 10)
}

// KprobeFacility returns an *failure.Unsupported if the kernel has no way to
// create kprobes: neither the perf kprobe PMU nor kprobe_events in
// tracefs (which it mounts if needed), as without CONFIG_KPROBES.
func KprobeFacility() error {
	return probeFacility("kprobe")
}

// UprobeFacility returns an *failure.Unsupported if the kernel has no way to
// create uprobes: neither the perf uprobe PMU nor uprobe_events in
// tracefs (which it mounts if needed).
func UprobeFacility() error {
	return probeFacility("uprobe")
}

// explain returns the *failure.Unsupported of facility if the kernel lacks
// it, else err: the kernel's error for a missing facility is obscure.
func explain(err error, facility func() error) error {
	var unsupported *failure.Unsupported
	if errors.As(facility(), &unsupported) {
		return unsupported
	}
	return err
}

// probeFacility checks for the perf PMU or the tracefs events file of
// kind "kprobe" or "uprobe".
func probeFacility(kind string) error {
	if _, err := os.Stat(filepath.Join("/sys/bus/event_source/devices", kind)); err == nil {
		return nil
	}
	if err := pins.EnsureTracefs(); err != nil {
		return fmt.Errorf("check for %ss: %w", kind, err)
	}
	_, err := os.Stat(filepath.Join(pins.TracefsPath, kind+"_events"))
	if errors.Is(err, os.ErrNotExist) {
		return &failure.Unsupported{Missing: fmt.Sprintf("kernel lacks %ss (no %s PMU, no %s_events in tracefs)", kind, kind, kind)}
	}
	return err
}

// checkSymbol accepts a symbol name of 1 to 2*maxIdentLen bytes: a letter,
// '_' or a byte of first, then letters, digits, '_' or bytes of rest.
func checkSymbol(what, s, first, rest string) error {
	if s == "" || len(s) > 2*maxIdentLen {
		return fmt.Errorf("%s %q: must be 1 to %d characters", what, s, 2*maxIdentLen)
	}
	extra := first
	for i, c := range []byte(s) {
		digit := i > 0 && c >= '0' && c <= '9'
		if !isAlpha(c) && !digit && strings.IndexByte(extra, c) < 0 {
			return fmt.Errorf("%s %q: not a symbol (character %q at %d)", what, s, c, i)
		}
		extra = rest
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

// probeKprobe attaches a real kprobe to trialFunction, once the facility
// is known to be there: the Kprobe program type alone loads even without
// CONFIG_KPROBES.
func probeKprobe() error {
	if err := programType(ebpf.Kprobe); err != nil {
		return err
	}
	if err := KprobeFacility(); err != nil {
		return err
	}
	err := withProgram(ebpf.Kprobe, ebpf.AttachNone, func(prog *ebpf.Program) error {
		a, err := Kprobe{Function: trialFunction}.Attach(prog)
		if err != nil {
			return err
		}
		return a.Link.Close()
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil // the facility is there, the trial function is not
	}
	if err != nil {
		return probeFailed("attaching a kprobe fails", err)
	}
	return nil
}
