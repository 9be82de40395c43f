package maps

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// encodeMembers writes a JSON object, read from r, into a struct or union
// typ by member name. Missing members stay zero.
func encodeMembers(dst []byte, r *jsonReader, t token, typ btf.Type, members []btf.Member) error {
	if t.kind != kindObject {
		return fmt.Errorf("%s is not an object of %s (fields: %s)", describe(t), typeName(typ), fieldNames(members))
	}
	for first := true; ; first = false {
		name, ok, err := r.member(first)
		if err != nil || !ok {
			return err
		}
		m := member(members, name)
		if m == nil {
			return fmt.Errorf("unknown field %q (%s has: %s)", name, typeName(typ), fieldNames(members))
		}
		v, err := r.value()
		if err != nil {
			return err
		}
		if err := encodeMember(dst, r, v, m); err != nil {
			return within(string(name), err)
		}
	}
}

func encodeMember(dst []byte, r *jsonReader, v token, m *btf.Member) error {
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
	return encode(dst[off:off+size], r, v, m.Type)
}

func member(members []btf.Member, name []byte) *btf.Member {
	for i := range members {
		if members[i].Name == string(name) {
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

// encodeArray writes a JSON array element by element, or a string into an
// array of bytes: an IPv6 address into 16 bytes, text into a char array.
func encodeArray(dst []byte, r *jsonReader, t token, typ *btf.Array) error {
	switch t.kind {
	case kindArray:
		return encodeElements(dst, r, typ)
	case kindString:
		return encodeByteString(dst, t.text, typ)
	}
	return fmt.Errorf("%s is not a value of %s", describe(t), typeName(typ))
}

// encodeElements writes the elements of the array r is in.
func encodeElements(dst []byte, r *jsonReader, t *btf.Array) error {
	size := len(dst) / max(int(t.Nelems), 1)
	for i := 0; ; i++ {
		more, err := r.element(i == 0)
		if err != nil || !more {
			return err
		}
		if i == int(t.Nelems) {
			return tooMany(r, i, t)
		}
		v, err := r.value()
		if err != nil {
			return err
		}
		if err := encode(dst[i*size:(i+1)*size], r, v, t.Type); err != nil {
			return within(fmt.Sprintf("[%d]", i), err)
		}
	}
}

// tooMany counts the elements of an array longer than t, from the
// (n+1)th on, for the error.
func tooMany(r *jsonReader, n int, t *btf.Array) error {
	for ; ; n++ {
		if err := r.skipValue(); err != nil {
			return err
		}
		if more, err := r.element(false); err != nil || !more {
			if err != nil {
				return err
			}
			return fmt.Errorf("%d elements, the array has %d", n+1, t.Nelems)
		}
	}
}

func encodeByteString(dst []byte, s []byte, t *btf.Array) error {
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

func encodeIPv6(dst []byte, s []byte) error {
	a, err := netip.ParseAddr(string(s))
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
