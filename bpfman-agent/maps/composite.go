package maps

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// encodeMembers writes a JSON object into a struct or union by member
// name. Missing members stay zero.
func encodeMembers(dst []byte, v any, name string, members []btf.Member) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not an object of %s (fields: %s)", describe(v), name, fieldNames(members))
	}
	for _, key := range sortedKeys(obj) {
		m := member(members, key)
		if m == nil {
			return fmt.Errorf("unknown field %q (%s has: %s)", key, name, fieldNames(members))
		}
		if err := encodeMember(dst, obj[key], m); err != nil {
			return within(key, err)
		}
	}
	return nil
}

func encodeMember(dst []byte, v any, m *btf.Member) error {
	if m.BitfieldSize > 0 || m.Offset%8 != 0 {
		return fmt.Errorf("bitfields are not supported; write the whole value as \"0x…\" hex")
	}
	size, err := btf.Sizeof(m.Type)
	if err != nil {
		return fmt.Errorf("BTF type %s: %w", typeName(m.Type), err)
	}
	off := int(m.Offset / 8)
	if off+size > len(dst) {
		return fmt.Errorf("BTF member out of bounds")
	}
	return encode(dst[off:off+size], v, m.Type)
}

func member(members []btf.Member, name string) *btf.Member {
	for i := range members {
		if members[i].Name == name {
			return &members[i]
		}
	}
	return nil
}

func fieldNames(members []btf.Member) string {
	names := make([]string, 0, len(members))
	for _, m := range members {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

func sortedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encodeArray writes a JSON array element by element, or a string into an
// array of bytes: an IPv6 address into 16 bytes, text into a char array.
func encodeArray(dst []byte, v any, t *btf.Array) error {
	switch v := v.(type) {
	case []any:
		return encodeElements(dst, v, t)
	case string:
		return encodeByteString(dst, v, t)
	}
	return fmt.Errorf("%s is not a value of %s", describe(v), typeName(t))
}

func encodeElements(dst []byte, elems []any, t *btf.Array) error {
	if len(elems) > int(t.Nelems) {
		return fmt.Errorf("%d elements, the array has %d", len(elems), t.Nelems)
	}
	size := len(dst) / max(int(t.Nelems), 1)
	for i, e := range elems {
		if err := encode(dst[i*size:(i+1)*size], e, t.Type); err != nil {
			return within(fmt.Sprintf("[%d]", i), err)
		}
	}
	return nil
}

func encodeByteString(dst []byte, s string, t *btf.Array) error {
	elem, ok := btf.UnderlyingType(t.Type).(*btf.Int)
	if !ok || elem.Size != 1 {
		return fmt.Errorf("%q: a string fits only an array of bytes, not %s", s, typeName(t))
	}
	if !isChar(elem) && len(dst) == 16 {
		return encodeIPv6(dst, s)
	}
	if len(s) > len(dst) {
		return fmt.Errorf("%q is %d bytes, longer than the %d-byte array", s, len(s), len(dst))
	}
	copy(dst, s)
	return nil
}

func encodeIPv6(dst []byte, s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return fmt.Errorf("%q is not an IPv6 address", s)
	}
	b := a.As16()
	copy(dst, b[:])
	return nil
}

// isChar says whether an integer is C's char, which clang marks signed.
func isChar(t *btf.Int) bool {
	return t.Encoding == btf.Char || t.Name == "char"
}
