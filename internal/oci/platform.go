package oci

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ParsePlatform reads "os/arch[/variant]", e.g. "linux/arm64/v8".
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/arm64", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platform returns the object's platform, linux/GOARCH by default.
func (b Bytecode) platform() (ocispec.Platform, error) {
	if b.Platform == "" {
		return ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	return ParsePlatform(b.Platform)
}

// bigEndian are the GOARCH names of big-endian architectures, whose eBPF
// objects are compiled with -target bpfeb.
var bigEndian = map[string]bool{"s390x": true, "ppc64": true, "mips": true, "mips64": true, "sparc64": true}

// ByteOrder returns the byte order of eBPF objects for an architecture.
func ByteOrder(arch string) binary.ByteOrder {
	if bigEndian[arch] {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// OrderName names a byte order for messages: "little-endian" or
// "big-endian".
func OrderName(o binary.ByteOrder) string {
	if o == binary.BigEndian {
		return "big-endian"
	}
	return "little-endian"
}

// ClangTarget is the clang -target that compiles eBPF of a byte order.
func ClangTarget(o binary.ByteOrder) string {
	if o == binary.BigEndian {
		return "bpfeb"
	}
	return "bpfel"
}
