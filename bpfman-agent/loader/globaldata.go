package loader

import (
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/globaldata"
)

// SetGlobals sets each variable of spec named in globals to its value. A
// value is a decimal integer ("123", "-5"), "true" or "false" (1 or 0), or
// hex bytes ("0x0a0b0c0d") of exactly the variable's size. Integers are
// written in the host's byte order and must fit the variable's width and,
// when its BTF type says so, its signedness.
func SetGlobals(spec *ebpf.CollectionSpec, globals map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(globals)) {
		if err := setGlobal(spec, name, globals[name]); err != nil {
			return err
		}
	}
	return nil
}

func setGlobal(spec *ebpf.CollectionSpec, name, value string) error {
	v := spec.Variables[name]
	if v == nil {
		return Errorf(ReasonInvalidGlobalData, "global variable %q not found in object (has: %s)",
			name, strings.Join(slices.Sorted(maps.Keys(spec.Variables)), ", "))
	}
	buf, err := Encode(value, v.Size(), globaldata.KindOf(v))
	if err != nil {
		return Errorf(ReasonInvalidGlobalData, "global variable %q (%d bytes): %v", name, v.Size(), err)
	}
	if err := v.Set(buf); err != nil {
		return Errorf(ReasonInvalidGlobalData, "global variable %q: %w", name, err)
	}
	return nil
}

// Kind says how an integer variable interprets its bytes (see
// globaldata.Kind).
type Kind = globaldata.Kind

// Kinds of variables.
const (
	KindUnknown  = globaldata.KindUnknown
	KindSigned   = globaldata.KindSigned
	KindUnsigned = globaldata.KindUnsigned
	KindBool     = globaldata.KindBool
	KindOther    = globaldata.KindOther
)

// Encode converts value to size bytes for a variable of kind k: the
// operator checks values with the same code (globaldata.Encode).
func Encode(value string, size uint32, k Kind) ([]byte, error) {
	return globaldata.Encode(value, size, k)
}
