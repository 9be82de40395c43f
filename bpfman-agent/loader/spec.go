package loader

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/kconfig"
	"github.com/cilium/ebpf"
)

// Spec parses obj, checks that it holds program (a function name) and
// that the maps it uses have usable names, and applies globals to the
// object's variables. It does not touch the kernel.
func Spec(obj []byte, program string, globals map[string]string) (*ebpf.CollectionSpec, error) {
	return SpecOf(obj, []string{program}, globals)
}

// SpecOf is Spec for several programs of one object (an application's).
func SpecOf(obj []byte, programs []string, globals map[string]string) (*ebpf.CollectionSpec, error) {
	spec, err := parse(obj)
	if err != nil {
		return nil, err
	}
	for _, program := range programs {
		if err := checkProgram(spec, program); err != nil {
			return nil, err
		}
	}
	for _, name := range MapsOf(spec, programs...) {
		if err := pins.ValidateMapName(name); err != nil {
			return nil, Errorf(ReasonInvalidObject, "program %s: %w", quoted(programs), err)
		}
	}
	if err := SetGlobals(spec, globals); err != nil {
		return nil, err
	}
	return spec, nil
}

// quoted names programs for a message: "a", or "a", "b".
func quoted(programs []string) string {
	q := make([]string, len(programs))
	for i, p := range programs {
		q[i] = strconv.Quote(p)
	}
	return strings.Join(q, ", ")
}

// parse parses obj and sets its .kconfig externs from this node's kernel
// as libbpf does (see package kconfig): a kernel lacking what they need
// is Unsupported.
func parse(obj []byte) (*ebpf.CollectionSpec, error) {
	spec, weak, err := kconfig.ParseSpec(obj)
	if err != nil {
		return nil, Errorf(ReasonInvalidObject, "parse ELF: %w", err)
	}
	err = kconfig.Resolve(spec, weak)
	switch {
	case errors.Is(err, kconfig.ErrNoConfig) || errors.Is(err, kconfig.ErrNoOption):
		return nil, Errorf(ReasonUnsupported, "%w", err)
	case err != nil:
		return nil, Errorf(ReasonInvalidObject, "%w", err)
	}
	return spec, nil
}

func checkProgram(spec *ebpf.CollectionSpec, program string) error {
	prog := spec.Programs[program]
	if prog == nil || !identifier(program) {
		return Errorf(ReasonProgramNotFound, "program %q not found in object (has: %s)",
			program, strings.Join(slices.Sorted(maps.Keys(spec.Programs)), ", "))
	}
	if prog.Type == ebpf.UnspecifiedProgram {
		return Errorf(ReasonInvalidObject, "program %q: section %q has no known program type", program, prog.SectionName)
	}
	return nil
}

// MapsOf lists, in order of first use, the maps that programs refer to.
func MapsOf(spec *ebpf.CollectionSpec, programs ...string) []string {
	var names []string
	for _, program := range programs {
		for _, ins := range spec.Programs[program].Instructions {
			name := ins.Reference()
			if spec.Maps[name] != nil && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// identifier reports whether s is a C identifier, as function names are.
func identifier(s string) bool {
	for i, c := range []byte(s) {
		if !(alnum(c) || c == '_') || i == 0 && c >= '0' && c <= '9' {
			return false
		}
	}
	return s != ""
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
