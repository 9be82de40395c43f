package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// TarOverhead is what a decompressed tar layer may hold beyond the object:
// headers, directories and small files.
const TarOverhead = 1 << 20

// ErrTooLarge is wrapped by ExtractObject's error for a layer or object
// over its limit.
var ErrTooLarge = errors.New("too large")

var gzipMagic = []byte{0x1f, 0x8b}

// ExtractObject returns the ELF object that a bytecode image's layer
// holds. The layer may be a bare ELF, a tar, or either gzip'd; its media
// type is not trusted, its content is. At most maxObject+TarOverhead bytes
// are decompressed. An error wraps ErrTooLarge when a limit was met; any
// other error says the layer is not a bytecode layer.
func ExtractObject(layer []byte, maxObject int64) ([]byte, error) {
	stream, err := Decompress(layer, maxObject+TarOverhead)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(stream)
	if head, _ := r.Peek(len(elf.ELFMAG)); string(head) == elf.ELFMAG {
		return readObject(r, "layer", maxObject)
	}
	return objectFromTar(r, maxObject)
}

// Decompress reads layer, gzip'd or not (its content says which), and
// fails with an error wrapping ErrTooLarge after limit bytes.
func Decompress(layer []byte, limit int64) (io.Reader, error) {
	if !bytes.HasPrefix(layer, gzipMagic) {
		return &cappedReader{r: bytes.NewReader(layer), left: limit, limit: limit}, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		return nil, fmt.Errorf("layer: bad gzip stream: %w", err)
	}
	return &cappedReader{r: zr, left: limit, limit: limit}, nil
}

// objectFromTar returns the content of the only object file (objectSuffixes)
// in a tar stream.
func objectFromTar(r io.Reader, maxObject int64) ([]byte, error) {
	tr := tar.NewReader(r)
	var obj []byte
	var name string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, tarError(err)
		}
		if err := checkEntry(hdr); err != nil {
			return nil, err
		}
		if !isObject(hdr) {
			continue
		}
		if name != "" {
			return nil, fmt.Errorf("layer holds more than one object file (.o, .bpf, .elf): %q and %q", name, hdr.Name)
		}
		name = hdr.Name
		if obj, err = readObject(tr, name, maxObject); err != nil {
			return nil, err
		}
	}
	if name == "" {
		return nil, errors.New("layer holds no object file (.o, .bpf, .elf)")
	}
	return obj, nil
}

func tarError(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("layer is neither a tar, a gzip'd tar nor an ELF object: %w", err)
}

// checkEntry refuses tar entries no honest bytecode image holds: a path
// with a ".." element, or a .o that is not a regular file.
func checkEntry(hdr *tar.Header) error {
	for _, elem := range strings.Split(hdr.Name, "/") {
		if elem == ".." {
			return fmt.Errorf("layer entry %.100q escapes the layer root", hdr.Name)
		}
	}
	if isObjectName(hdr.Name) && hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("layer entry %.100q is not a regular file", hdr.Name)
	}
	return nil
}

func isObject(hdr *tar.Header) bool {
	return hdr.Typeflag == tar.TypeReg && isObjectName(hdr.Name)
}

// objectSuffixes are the names BPF objects go by: ".o" (bpfman, clang),
// ".bpf" (Suricata) and ".elf" (cilium/ebpf's test objects), which
// `bpfleet image build` packages under the name it is given.
var objectSuffixes = []string{".o", ".bpf", ".elf"}

// isObjectName reports whether name is that of an object file (whiteout
// markers, ".wh.*", are not).
func isObjectName(name string) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, ".wh.") {
		return false
	}
	for _, suffix := range objectSuffixes {
		if strings.HasSuffix(base, suffix) {
			return true
		}
	}
	return false
}

func readObject(r io.Reader, name string, maxObject int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxObject+1))
	if err != nil {
		return nil, fmt.Errorf("read %.100s: %w", name, err)
	}
	if int64(len(b)) > maxObject {
		return nil, fmt.Errorf("object %.100s is larger than %d bytes: %w", name, maxObject, ErrTooLarge)
	}
	return b, nil
}

// cappedReader fails with ErrTooLarge once more than limit bytes have
// been read through it: it stops decompression bombs.
type cappedReader struct {
	r     io.Reader
	left  int64
	limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, fmt.Errorf("layer decompresses to more than %d bytes: %w", c.limit, ErrTooLarge)
	}
	return n, err
}
