package maps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

func encodeInt(dst []byte, v token, t *btf.Int) error {
	sg := signOf(t.Encoding)
	switch v.kind {
	case kindNumber:
		return putInteger(dst, v.text, sg)
	case kindBool:
		return putBool(dst, v.b)
	case kindString:
		return encodeIntString(dst, v.text, sg)
	}
	return fmt.Errorf("%s is not a value of %s", describe(v), typeName(t))
}

// encodeIntString reads an IPv4 address into a 4-byte integer, in network
// byte order, or else a decimal integer.
func encodeIntString(dst []byte, s []byte, sg sign) error {
	if len(dst) != 4 {
		return putInteger(dst, s, sg)
	}
	if a, ok := parseIPv4(s); ok {
		copy(dst, a[:])
		return nil
	}
	if bytes.ContainsAny(s, ".:") {
		return putIPv4(dst, s)
	}
	return putInteger(dst, s, sg)
}

// putIPv4 writes the IPv4 address s into dst, in network byte order.
func putIPv4(dst []byte, s []byte) error {
	a, err := netip.ParseAddr(string(s))
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", s)
	}
	b := a.As4()
	copy(dst, b[:])
	return nil
}

// parseIPv4 reads a dotted quad as netip.ParseAddr does (four decimal
// fields of at most 255, no leading zeros), without a string; ok is false
// for anything else, which encodeIntString leaves to netip.
func parseIPv4(s []byte) (a [4]byte, ok bool) {
	field, digits := 0, 0
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && s[i-1] == '0' {
				return a, false
			}
			v := int(a[field])*10 + int(c-'0')
			if v > 255 {
				return a, false
			}
			a[field], digits = byte(v), digits+1
		case c == '.' && digits > 0 && field < 3:
			field, digits = field+1, 0
		default:
			return a, false
		}
	}
	return a, field == 3 && digits > 0
}

func putBool(dst []byte, b bool) error {
	if len(dst) != 1 {
		return fmt.Errorf("%v: a bool is 1 byte, want %d bytes", b, len(dst))
	}
	dst[0] = 0
	if b {
		dst[0] = 1
	}
	return nil
}

// sign says which integers a type holds.
type sign int

const (
	unsignedInt sign = iota
	signedInt
	eitherInt // no BTF: negative or not, as long as it fits the width
)

func signOf(encoding btf.IntEncoding) sign {
	if encoding == btf.Signed {
		return signedInt
	}
	return unsignedInt
}

// putInteger writes the decimal integer s into dst, in host byte order,
// checking that it fits the size of dst.
func putInteger(dst []byte, s []byte, sg sign) error {
	bits := len(dst) * 8
	if bits != 8 && bits != 16 && bits != 32 && bits != 64 {
		return fmt.Errorf("%s: a number encodes 1, 2, 4 or 8 bytes, want %d bytes; use \"0x…\" hex", s, len(dst))
	}
	u, ok := parseDigits(s, bits, sg)
	if !ok {
		var err error
		if u, err = parseInteger(string(s), bits, sg); err != nil {
			return err
		}
	}
	PutUint(dst, u)
	return nil
}

// parseDigits reads the commonest integer, a few decimal digits that fit
// the width, without a string; ok is false for anything else, which
// putInteger leaves to strconv.
func parseDigits(s []byte, bits int, sg sign) (u uint64, ok bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	hi := uint64(math.MaxUint64) >> (64 - bits)
	if sg == signedInt {
		hi >>= 1
	}
	return u, u <= hi
}

func parseInteger(s string, bits int, sg sign) (uint64, error) {
	negative := strings.HasPrefix(s, "-")
	if negative && sg == unsignedInt {
		return 0, fmt.Errorf("%s is negative, the type is unsigned", s)
	}
	if negative || sg == signedInt {
		i, err := strconv.ParseInt(s, 10, bits)
		return uint64(i), rangeError(s, bits, sg, err)
	}
	u, err := strconv.ParseUint(s, 10, bits)
	return u, rangeError(s, bits, sg, err)
}

func rangeError(s string, bits int, sg sign, err error) error {
	if err == nil {
		return nil
	}
	if !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is not an integer", s)
	}
	lo, hi := -(int64(1) << (bits - 1)), uint64(math.MaxUint64)>>(64-bits)
	switch sg {
	case signedInt:
		hi >>= 1
	case unsignedInt:
		lo = 0
	}
	return fmt.Errorf("%s is out of range for a %d-byte integer [%d, %d]", s, bits/8, lo, hi)
}

// PutUint writes u into dst, of 1, 2, 4 or 8 bytes, in the host's byte
// order, truncated to dst's width; other widths are left as they are.
func PutUint(dst []byte, u uint64) {
	switch len(dst) {
	case 1:
		dst[0] = byte(u)
	case 2:
		binary.NativeEndian.PutUint16(dst, uint16(u))
	case 4:
		binary.NativeEndian.PutUint32(dst, uint32(u))
	case 8:
		binary.NativeEndian.PutUint64(dst, u)
	}
}

// Uint reads b, of 1, 2, 4 or 8 bytes in the host's byte order, as an
// unsigned integer; ok is false for other widths.
func Uint(b []byte) (u uint64, ok bool) {
	switch len(b) {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.NativeEndian.Uint16(b)), true
	case 4:
		return uint64(binary.NativeEndian.Uint32(b)), true
	case 8:
		return binary.NativeEndian.Uint64(b), true
	}
	return 0, false
}

func encodeEnum(dst []byte, v token, t *btf.Enum) error {
	if v.kind != kindString {
		return encodeInt(dst, v, &btf.Int{Size: t.Size, Encoding: encoding(t.Signed)})
	}
	s := v.text
	for _, ev := range t.Values {
		if ev.Name == string(s) {
			PutUint(dst, ev.Value)
			return nil
		}
	}
	return encodeIntString(dst, s, signOf(encoding(t.Signed)))
}

func encoding(signed bool) btf.IntEncoding {
	if signed {
		return btf.Signed
	}
	return btf.Unsigned
}
