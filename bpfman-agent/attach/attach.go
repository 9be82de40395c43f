package attach

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Spec is one kind of hook with its target on this node.
type Spec interface {
	// ProgramType is the type a program must have to attach here.
	ProgramType() ebpf.ProgramType
	// Attach attaches prog and returns the link, which the caller owns.
	Attach(prog *ebpf.Program) (link.Link, error)
	// String describes the hook for status and logs, e.g.
	// "tracepoint syscalls/sys_enter_openat".
	String() string
}

// CheckType returns an error unless programs of type typ can attach to s.
func CheckType(s Spec, typ ebpf.ProgramType) error {
	if typ != s.ProgramType() {
		return fmt.Errorf("%s needs a %s program, not %s", s, s.ProgramType(), typ)
	}
	return nil
}

// maxIdentLen bounds names of kernel objects taken from the API.
const maxIdentLen = 128

// checkIdent accepts what names a tracepoint group or event:
// [A-Za-z0-9_], 1 to maxIdentLen bytes.
func checkIdent(what, s string) error {
	if s == "" || len(s) > maxIdentLen {
		return fmt.Errorf("%s %q: must be 1 to %d characters", what, s, maxIdentLen)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%s %q: character %q not in [A-Za-z0-9_]", what, s, c)
		}
	}
	return nil
}
