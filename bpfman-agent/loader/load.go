package loader

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// verifierLogLines is how much of the verifier log an Error keeps.
const verifierLogLines = 20

// enotsupp is the kernel-internal ENOTSUPP, which bpf() can return.
const enotsupp = unix.Errno(524)

var removeMemlock = sync.OnceValue(rlimit.RemoveMemlock)

// Loader loads objects, sharing decoded kernel BTF between loads. It is
// safe for concurrent use.
type Loader struct {
	cache *btf.Cache
}

// New returns a Loader, lifting RLIMIT_MEMLOCK on kernels that account BPF
// memory with it.
func New() (*Loader, error) {
	if err := removeMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock rlimit: %w", err)
	}
	return &Loader{cache: btf.NewCache()}, nil
}

// Objects are a loaded program and the maps it uses, by name. The caller
// owns their file descriptors.
type Objects struct {
	Program *ebpf.Program
	Maps    map[string]*ebpf.Map
}

// Close releases the file descriptors. Pinned objects stay in the kernel.
func (o *Objects) Close() error {
	err := o.Program.Close()
	for _, m := range o.Maps {
		err = errors.Join(err, m.Close())
	}
	return err
}

// Load parses obj, applies globals and loads program and the maps it uses
// (only those) into the kernel.
func (l *Loader) Load(obj []byte, program string, globals map[string]string) (*Objects, error) {
	spec, err := Spec(obj, program, globals)
	if err != nil {
		return nil, err
	}
	return l.LoadSpec(spec, program)
}

// LoadSpec loads program from a spec made by Spec, and the maps it uses.
func (l *Loader) LoadSpec(spec *ebpf.CollectionSpec, program string) (*Objects, error) {
	return l.LoadSpecWith(spec, program, nil, "")
}

// LoadSpecWith is LoadSpec using the maps in replace, by name, instead of
// creating them (cilium/ebpf's MapReplacements; see CheckCompatible).
// Objects.Maps holds clones of them; replace stays the caller's to close.
// A map the object pins by name (LIBBPF_PIN_BY_NAME) is the one pinned
// at byName/<map name> if there is one (it must match the object's
// definition: see checkByName), else it is created and pinned there (a
// failed load may leave it pinned); with byName "", such a map is
// refused.
func (l *Loader) LoadSpecWith(spec *ebpf.CollectionSpec, program string, replace map[string]*ebpf.Map, byName string) (*Objects, error) {
	c, err := l.LoadPrograms(spec, []string{program}, replace, byName)
	if err != nil {
		return nil, err
	}
	return &Objects{Program: c.Programs[program], Maps: c.Maps}, nil
}

// Collection is several programs of one object, loaded together, and the
// maps they use, by name: one map for all of them where they name the same
// one (its globals too). The caller owns their file descriptors.
type Collection struct {
	Programs map[string]*ebpf.Program
	Maps     map[string]*ebpf.Map
}

// Close releases the file descriptors. Pinned objects stay in the kernel.
func (c *Collection) Close() error {
	var err error
	for _, p := range c.Programs {
		err = errors.Join(err, p.Close())
	}
	for _, m := range c.Maps {
		err = errors.Join(err, m.Close())
	}
	return err
}

// LoadPrograms loads programs from a spec made by SpecOf in one load, and
// the maps any of them uses (only those), using the maps in replace
// instead of creating them, and those pinned by name at byName, as
// LoadSpecWith does.
func (l *Loader) LoadPrograms(spec *ebpf.CollectionSpec, programs []string, replace map[string]*ebpf.Map, byName string) (*Collection, error) {
	names := MapsOf(spec, programs...)
	if err := checkByName(spec, names, byName); err != nil {
		return nil, err
	}
	dst := reflect.New(assignType(programs, names)).Elem()
	opts := &ebpf.CollectionOptions{Cache: l.cache, MapReplacements: replace, Maps: ebpf.MapOptions{PinPath: byName}}
	if err := spec.LoadAndAssign(dst.Addr().Interface(), opts); err != nil {
		return nil, classify(quoted(programs), unknownType(spec, programs, err))
	}
	c := &Collection{Programs: make(map[string]*ebpf.Program, len(programs)), Maps: make(map[string]*ebpf.Map, len(names))}
	for i, name := range programs {
		c.Programs[name] = dst.Field(i).Interface().(*ebpf.Program)
	}
	for i, name := range names {
		c.Maps[name] = dst.Field(len(programs) + i).Interface().(*ebpf.Map)
	}
	return c, nil
}

// assignType is the struct LoadAndAssign fills: each program, then each
// map. Loading through it loads nothing else from the object.
func assignType(programs, maps []string) reflect.Type {
	var fields []reflect.StructField
	for i, name := range programs {
		fields = append(fields, field(fmt.Sprintf("Program%d", i), reflect.TypeFor[*ebpf.Program](), name))
	}
	for i, name := range maps {
		fields = append(fields, field(fmt.Sprintf("Map%d", i), reflect.TypeFor[*ebpf.Map](), name))
	}
	return reflect.StructOf(fields)
}

func field(name string, typ reflect.Type, tag string) reflect.StructField {
	return reflect.StructField{Name: name, Type: typ, Tag: reflect.StructTag(`ebpf:"` + tag + `"`)}
}

// classify turns a load failure of program (quoted: see quoted) into an
// *Error.
func classify(program string, err error) *Error {
	e := &Error{Reason: ReasonLoadFailed, Message: fmt.Sprintf("load program %s: %v", program, err), Err: err}
	var verr *ebpf.VerifierError
	if errors.As(err, &verr) {
		e.Reason = ReasonVerifierRejected
		e.Message = fmt.Sprintf("program %s rejected by the verifier: %v", program, verr)
		e.VerifierLog = fmt.Sprintf("%-*v", verifierLogLines, verr)
	}
	if unsupported(err) {
		// Not the verifier's doing. The loader lifted MEMLOCK already:
		// cilium/ebpf's hint about it would mislead whoever reads the
		// status.
		e.Reason = ReasonUnsupported
		e.Message = strings.ReplaceAll(fmt.Sprintf("load program %s: %v", program, err), memlockHint, "")
	}
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		e.Reason = ReasonMapIncompatible
	}
	return e
}

// unknownType adds to a load's EINVAL that the kernel cannot load one of
// programs' type at all (features.HaveProgramType; e.g. Netfilter before
// Linux 6.4), which the kernel's EINVAL does not tell from a bad program.
func unknownType(spec *ebpf.CollectionSpec, programs []string, err error) error {
	if !errors.Is(err, unix.EINVAL) {
		return err
	}
	for _, name := range programs {
		ps := spec.Programs[name]
		if ps == nil {
			continue
		}
		if perr := features.HaveProgramType(ps.Type); errors.Is(perr, ebpf.ErrNotSupported) {
			return fmt.Errorf("%w (the kernel: %w)", perr, err)
		}
	}
	return err
}

// memlockHint is what cilium/ebpf appends to EPERM.
const memlockHint = " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)"

// unsupported reports whether err means the kernel cannot run this kind of
// program at all, rather than refusing this one.
func unsupported(err error) bool {
	return errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, enotsupp)
}
