package oci

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/kconfig"
)

// BytecodeFromELF describes an object for an image: its programs (name →
// bpfman program type, from the ELF section: see ProgramType) and maps (name → map type),
// read from the ELF itself rather than typed by hand. platform is as in
// Bytecode; the object must be of its byte order.
func BytecodeFromELF(fileName, platform string, object []byte) (Bytecode, error) {
	spec, _, err := kconfig.ParseSpec(object)
	if err != nil {
		return Bytecode{}, fmt.Errorf("read %s: %w", fileName, err)
	}
	b := Bytecode{FileName: fileName, Object: object, Platform: platform}
	p, err := b.platform()
	if err != nil {
		return Bytecode{}, err
	}
	if want := ByteOrder(p.Architecture); spec.ByteOrder != want {
		return Bytecode{}, fmt.Errorf("%s is %s eBPF, but %s runs %s eBPF: compile it with clang -target %s",
			fileName, OrderName(spec.ByteOrder), platformString(p), OrderName(want), ClangTarget(want))
	}
	b.Programs, b.Maps = Contents(spec)
	return b, nil
}

// Contents are the programs (name → type, see ProgramType) and maps
// (name → map type; not the data sections, ".rodata"…) of an object, as
// an image's labels name them.
func Contents(spec *ebpf.CollectionSpec) (programs, maps map[string]string) {
	programs, maps = map[string]string{}, map[string]string{}
	for name, p := range spec.Programs {
		programs[name] = ProgramType(p)
	}
	for name, m := range spec.Maps {
		if !strings.HasPrefix(name, ".") {
			maps[name] = strings.ToLower(m.Type.String())
		}
	}
	return programs, maps
}
