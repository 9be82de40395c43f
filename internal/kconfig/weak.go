package kconfig

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Section is the name of the virtual section, and of the map, holding the
// externs.
const Section = ".kconfig"

// sym64Size is the size of an Elf64_Sym; st_info is its byte 4.
const (
	sym64Size  = 24
	infoOffset = 4
)

// Patch returns obj with its __weak .kconfig externs made plain (global)
// externs, which cilium/ebpf parses, and the names of those it changed;
// and with each instruction loading an extern's address marked with the
// extern's place in the .kconfig section (see marker), which Resolve
// reads back: cilium/ebpf keeps which extern an instruction loads only
// in metadata of its own. An object without externs is returned as is.
// obj is not modified.
func Patch(obj []byte) (out []byte, weak map[string]bool, err error) {
	defer func() {
		if r := recover(); r != nil { // debug/elf is not hardened against hostile input
			out, weak, err = nil, nil, fmt.Errorf("read ELF: %v", r)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, nil, fmt.Errorf("read ELF: %w", err)
	}
	syms, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return obj, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read ELF symbols: %w", err)
	}
	externs, err := externNames(obj)
	if err != nil || len(externs) == 0 {
		return obj, nil, err
	}
	out, weak, err = patchSymbols(obj, f, syms, weakExterns(syms), externs)
	if err != nil {
		return nil, nil, err
	}
	return out, weak, markLoads(out, f, syms, externs)
}

// weakExterns lists the indexes in syms of undefined weak symbols.
func weakExterns(syms []elf.Symbol) []int {
	var idx []int
	for i, s := range syms {
		if s.Section == elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_WEAK && elf.ST_TYPE(s.Info) == elf.STT_NOTYPE {
			idx = append(idx, i)
		}
	}
	return idx
}

// externNames lists the variables of the object's .kconfig section, in
// order.
func externNames(obj []byte) ([]string, error) {
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(obj))
	if errors.Is(err, btf.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read BTF: %w", err)
	}
	var ds *btf.Datasec
	if err := spec.TypeByName(Section, &ds); err != nil {
		return nil, nil
	}
	names := make([]string, len(ds.Vars))
	for i, v := range ds.Vars {
		names[i] = v.Type.TypeName()
	}
	return names, nil
}

func patchSymbols(obj []byte, f *elf.File, syms []elf.Symbol, idx []int, externs []string) ([]byte, map[string]bool, error) {
	symtab := f.SectionByType(elf.SHT_SYMTAB)
	if symtab == nil || f.Class != elf.ELFCLASS64 {
		return nil, nil, errors.New("read ELF: no 64-bit symbol table")
	}
	out := bytes.Clone(obj)
	weak := map[string]bool{}
	for _, i := range idx {
		if !slices.Contains(externs, syms[i].Name) {
			continue
		}
		// Symbols() leaves out the null symbol 0: syms[i] is entry i+1.
		off := symtab.Offset + uint64(i+1)*sym64Size + infoOffset
		if off >= uint64(len(out)) {
			return nil, nil, errors.New("read ELF: symbol table out of bounds")
		}
		out[off] = byte(elf.ST_INFO(elf.STB_GLOBAL, elf.ST_TYPE(syms[i].Info)))
		weak[syms[i].Name] = true
	}
	return out, weak, nil
}

// ParseSpec parses obj with cilium/ebpf after Patch, without resolving
// the externs: for reading an object's programs and maps.
func ParseSpec(obj []byte) (*ebpf.CollectionSpec, map[string]bool, error) {
	patched, weak, err := Patch(obj)
	if err != nil {
		return nil, nil, err
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(patched))
	return spec, weak, err
}
