package image

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

var gzipMagic = []byte{0x1f, 0x8b}

// extractObject returns the ELF object that a layer holds. The layer may be
// a bare ELF, a tar, or either gzip'd; its media type is not trusted, its
// content is. At most maxObject+tarOverhead bytes are decompressed.
func extractObject(layer []byte, maxObject int64) ([]byte, error) {
	stream, err := decompress(layer)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(&cappedReader{r: stream, left: maxObject + tarOverhead, limit: maxObject + tarOverhead})
	if head, _ := r.Peek(len(elf.ELFMAG)); string(head) == elf.ELFMAG {
		return readObject(r, "layer", maxObject)
	}
	return objectFromTar(r, maxObject)
}

func decompress(layer []byte) (io.Reader, error) {
	if !bytes.HasPrefix(layer, gzipMagic) {
		return bytes.NewReader(layer), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		return nil, newError(ReasonInvalid, "layer: bad gzip stream: %w", err)
	}
	return zr, nil
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
			return nil, newError(ReasonInvalid, "layer holds more than one object file (.o, .bpf, .elf): %q and %q", name, hdr.Name)
		}
		name = hdr.Name
		if obj, err = readObject(tr, name, maxObject); err != nil {
			return nil, err
		}
	}
	if name == "" {
		return nil, newError(ReasonInvalid, "layer holds no object file (.o, .bpf, .elf)")
	}
	return obj, nil
}

func tarError(err error) error {
	if ReasonOf(err) != "" {
		return err
	}
	return newError(ReasonInvalid, "layer is neither a tar, a gzip'd tar nor an ELF object: %w", err)
}

// checkEntry refuses tar entries no honest bytecode image holds: a path
// with a ".." element, or a .o that is not a regular file.
func checkEntry(hdr *tar.Header) error {
	for _, elem := range strings.Split(hdr.Name, "/") {
		if elem == ".." {
			return newError(ReasonInvalid, "layer entry %.100q escapes the layer root", hdr.Name)
		}
	}
	if isObjectName(hdr.Name) && hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
		return newError(ReasonInvalid, "layer entry %.100q is not a regular file", hdr.Name)
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
		return nil, wrap(ReasonInvalid, fmt.Sprintf("read %.100s", name), err)
	}
	if int64(len(b)) > maxObject {
		return nil, newError(ReasonTooLarge, "object %.100s is larger than %d bytes", name, maxObject)
	}
	return b, nil
}

// cappedReader fails with ImageTooLarge once more than limit bytes have been
// read through it: it stops decompression bombs.
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
		return n, newError(ReasonTooLarge, "layer decompresses to more than %d bytes", c.limit)
	}
	return n, err
}
