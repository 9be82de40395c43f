package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// elfHeaderSize is the size of an ELFCLASS64 file header.
const elfHeaderSize = 64

// hostOrder is the byte order of this machine, which an eBPF object must use.
var hostOrder = func() elf.Data {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return elf.ELFDATA2LSB
	}
	return elf.ELFDATA2MSB
}()

var byteOrders = map[elf.Data]binary.ByteOrder{
	elf.ELFDATA2LSB: binary.LittleEndian,
	elf.ELFDATA2MSB: binary.BigEndian,
}

// CheckELF checks that b is a 64-bit eBPF (EM_BPF) ELF object of the host's
// byte order. It returns an *Error with Reason NotBPF or WrongEndianness.
func CheckELF(b []byte) error {
	if len(b) < elfHeaderSize || !bytes.HasPrefix(b, []byte(elf.ELFMAG)) {
		return newError(ReasonNotBPF, "object is not an ELF file (no \\x7fELF header)")
	}
	data := elf.Data(b[elf.EI_DATA])
	order, ok := byteOrders[data]
	if !ok {
		return newError(ReasonNotBPF, "object is not a valid ELF file: byte order %v", data)
	}
	if machine := elf.Machine(order.Uint16(b[18:20])); machine != elf.EM_BPF {
		return newError(ReasonNotBPF, "object is an ELF file for %v, not eBPF (EM_BPF): compile it with clang -target bpf", machine)
	}
	if class := elf.Class(b[elf.EI_CLASS]); class != elf.ELFCLASS64 {
		return newError(ReasonNotBPF, "object is eBPF but %v, not ELFCLASS64", class)
	}
	if data != hostOrder {
		host := byteOrders[hostOrder]
		return newError(ReasonWrongEndianness, "object is %s eBPF but this node is %s: compile it with clang -target %s",
			bpfoci.OrderName(order), bpfoci.OrderName(host), bpfoci.ClangTarget(host))
	}
	return nil
}

// ReadPath reads an eBPF object from a file on the node (for development),
// with the checks of CheckELF and the default object size limit.
// It refuses anything but a regular file, before opening it: the path
// comes from the API, and a FIFO or device would block the agent or act.
func ReadPath(path string) ([]byte, error) {
	// Looked at before it is opened: opening a device can act (opening
	// /dev/watchdog arms it), and opening a FIFO wakes its writer.
	before, err := os.Lstat(path)
	if err != nil {
		return nil, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("read object: %w", err)}
	}
	if !before.Mode().IsRegular() {
		return nil, newError(ReasonInvalid, "object %s is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("read object: %w", err)}
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !os.SameFile(before, fi) {
		return nil, newError(ReasonInvalid, "object %s was replaced while it was opened", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, defaultMaxObject+1))
	if err != nil {
		return nil, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("read object %s: %w", path, err)}
	}
	if len(b) > defaultMaxObject {
		return nil, newError(ReasonTooLarge, "object %s is larger than %d bytes", path, defaultMaxObject)
	}
	if err := CheckELF(b); err != nil {
		return nil, wrap(ReasonNotBPF, path, err)
	}
	return b, nil
}

// checkPrograms checks that obj defines every program in programs.
func checkPrograms(obj []byte, programs map[string]string) error {
	defined, err := programSymbols(obj)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(programs)) {
		if !defined[name] {
			return newError(ReasonInvalid, "label io.ebpf.programs names %s, which the object does not define (it defines: %s)",
				name, summary(defined))
		}
	}
	return nil
}

// programSymbols returns the names of the programs in obj: function symbols
// in executable sections other than .text (which holds sub-programs).
// debug/elf is not hardened against hostile input, so a panic in it is
// turned into an error.
func programSymbols(obj []byte) (names map[string]bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			names, err = nil, newError(ReasonNotBPF, "object is not a valid ELF file: %v", r)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, newError(ReasonNotBPF, "object is not a valid ELF file: %w", err)
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, newError(ReasonNotBPF, "object has no readable symbol table: %w", err)
	}
	names = map[string]bool{}
	for _, s := range syms {
		if isProgram(f, s) {
			names[s.Name] = true
		}
	}
	return names, nil
}

func isProgram(f *elf.File, s elf.Symbol) bool {
	if elf.ST_TYPE(s.Info) != elf.STT_FUNC || int(s.Section) >= len(f.Sections) || s.Section == elf.SHN_UNDEF {
		return false
	}
	sec := f.Sections[s.Section]
	return sec.Flags&elf.SHF_EXECINSTR != 0 && sec.Name != ".text"
}

// summary lists at most a few names, sorted, for an error message.
func summary(names map[string]bool) string {
	const max = 8
	list := slices.Sorted(maps.Keys(names))
	if len(list) == 0 {
		return "none"
	}
	if len(list) > max {
		list = append(list[:max], fmt.Sprintf("and %d more", len(list)-max))
	}
	return strings.Join(list, ", ")
}
