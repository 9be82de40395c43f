package globaldata

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Kind says how an integer variable interprets its bytes.
type Kind int

// Kinds of variables.
const (
	KindUnknown  Kind = iota // no BTF: accept signed or unsigned values
	KindSigned               // signed integer or enum
	KindUnsigned             // unsigned integer or enum
	KindBool                 // C bool: 0 or 1
	KindOther                // struct, array...: hex bytes only
)

// KindOf is how the variable v reads its bytes, from its BTF type.
func KindOf(v *ebpf.VariableSpec) Kind {
	if v.Type == nil {
		return KindUnknown
	}
	switch t := btf.UnderlyingType(v.Type.Type).(type) {
	case *btf.Int:
		return intEncodingKind(t.Encoding)
	case *btf.Enum:
		return signedKind(t.Signed)
	}
	return KindOther
}

func intEncodingKind(e btf.IntEncoding) Kind {
	switch {
	case e&btf.Bool != 0:
		return KindBool
	case e&btf.Signed != 0:
		return KindSigned
	}
	return KindUnsigned
}

func signedKind(signed bool) Kind {
	if signed {
		return KindSigned
	}
	return KindUnsigned
}

// Encode converts value to size bytes for a variable of kind k, integers
// in the host's byte order.
func Encode(value string, size uint32, k Kind) ([]byte, error) {
	if rest, ok := strings.CutPrefix(value, "0x"); ok {
		return decodeHex(rest, size)
	}
	if k == KindOther {
		return nil, fmt.Errorf("value %q: not an integer variable, give hex bytes (0x...)", value)
	}
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return nil, fmt.Errorf("value %q: integer values need a 1, 2, 4 or 8 byte variable, give hex bytes (0x...)", value)
	}
	n, err := parseInt(value, size, k)
	if err != nil {
		return nil, err
	}
	return putUint(n, size), nil
}

func decodeHex(digits string, size uint32) ([]byte, error) {
	buf, err := hex.DecodeString(digits)
	if err != nil {
		return nil, fmt.Errorf("value 0x%s: invalid hex: %w", digits, err)
	}
	if len(buf) != int(size) {
		return nil, fmt.Errorf("value 0x%s: %d bytes, want exactly %d", digits, len(buf), size)
	}
	return buf, nil
}

// parseInt returns value as the bit pattern of a size-byte integer.
func parseInt(value string, size uint32, k Kind) (uint64, error) {
	switch value {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	bits := int(size) * 8
	if u, err := strconv.ParseUint(value, 10, bits); err == nil && k != KindSigned && (k != KindBool || u <= 1) {
		return u, nil
	}
	if i, err := strconv.ParseInt(value, 10, bits); err == nil && (k == KindSigned || k == KindUnknown) {
		return uint64(i), nil
	}
	return 0, fmt.Errorf("value %q: not a %s", value, describe(size, k))
}

func describe(size uint32, k Kind) string {
	bits := size * 8
	switch k {
	case KindSigned:
		return fmt.Sprintf("signed %d-bit integer", bits)
	case KindUnsigned:
		return fmt.Sprintf("unsigned %d-bit integer", bits)
	case KindBool:
		return "bool (true, false, 0 or 1)"
	}
	return fmt.Sprintf("%d-bit integer", bits)
}

// putUint is the size-byte integer n in the host's byte order.
func putUint(n uint64, size uint32) []byte {
	buf := make([]byte, size)
	switch size {
	case 1:
		buf[0] = byte(n)
	case 2:
		binary.NativeEndian.PutUint16(buf, uint16(n))
	case 4:
		binary.NativeEndian.PutUint32(buf, uint32(n))
	default:
		binary.NativeEndian.PutUint64(buf, n)
	}
	return buf
}
