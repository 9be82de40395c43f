package kconfig

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"slices"
)

// markerTag is the upper half of a marker: the lower half is the index of
// the extern in the .kconfig section plus one. An instruction loading an
// extern's address has no other use for its immediate.
const markerTag = 0x6b636667 // "kcfg"

func marker(index int) int64 { return markerTag<<32 | int64(index+1) }

// rel64Size is the size of an Elf64_Rel; ldImm64Size that of the two
// instructions of a 64-bit load.
const (
	rel64Size   = 16
	ldImm64Size = 16
)

// markLoads writes the marker of its extern into every instruction of
// out that the relocations say loads an extern's address. names are the
// externs, in .kconfig section order.
func markLoads(out []byte, f *elf.File, syms []elf.Symbol, names []string) error {
	order := byteOrder(f)
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_REL || int(sec.Info) >= len(f.Sections) {
			continue
		}
		target := f.Sections[sec.Info]
		if target.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		if err := markSection(out, sec, target, syms, names, order); err != nil {
			return err
		}
	}
	return nil
}

func markSection(out []byte, rels, target *elf.Section, syms []elf.Symbol, names []string, order binary.ByteOrder) error {
	end := rels.Offset + rels.Size
	if end > uint64(len(out)) {
		return errors.New("read ELF: relocations out of bounds")
	}
	for off := rels.Offset; off+rel64Size <= end; off += rel64Size {
		rOffset, rInfo := order.Uint64(out[off:]), order.Uint64(out[off+8:])
		sym := int(rInfo>>32) - 1 // Symbols() leaves out the null symbol 0
		if sym < 0 || sym >= len(syms) || syms[sym].Section != elf.SHN_UNDEF {
			continue
		}
		i := slices.Index(names, syms[sym].Name)
		if i < 0 {
			continue
		}
		ins := target.Offset + rOffset
		if rOffset+ldImm64Size > target.Size || ins+ldImm64Size > uint64(len(out)) {
			return errors.New("read ELF: relocation out of bounds")
		}
		m := uint64(marker(i))
		order.PutUint32(out[ins+4:], uint32(m))
		order.PutUint32(out[ins+12:], uint32(m>>32))
	}
	return nil
}

func byteOrder(f *elf.File) binary.ByteOrder {
	if f.Data == elf.ELFDATA2MSB {
		return binary.BigEndian
	}
	return binary.LittleEndian
}
