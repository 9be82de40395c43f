package maps

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Encode turns raw, the JSON of a key or value, into the size bytes of
// typ, a map's BTF key or value type. raw is one of:
//
//   - a number: an integer of exactly size 1, 2, 4 or 8 bytes, host byte
//     order, range-checked (negative only for signed types, or without
//     BTF);
//   - a string "0x…": hex bytes, exactly size of them;
//   - another string, typed through BTF: an IPv4 address for a 4-byte
//     integer (network byte order, as packets carry it), an IPv6 address
//     for a 16-byte array, text for a char array (NUL-padded), a decimal
//     integer, an enum value's name;
//   - an object: a BTF struct by member name (missing members and padding
//     are zeros, unknown members an error);
//   - an array: a BTF array, element by element;
//   - a bool: a 1-byte integer.
//
// With typ nil, only numbers and hex are accepted. Errors are *Error.
func Encode(raw json.RawMessage, typ btf.Type, size uint32) ([]byte, error) {
	v, err := parse(raw)
	if err != nil {
		return nil, &Error{Err: err}
	}
	if err := checkSize(typ, size); err != nil {
		return nil, &Error{Err: err}
	}
	buf := make([]byte, size)
	if err := encode(buf, v, typ); err != nil {
		return nil, within("", err)
	}
	return buf, nil
}

// parse decodes one JSON value, keeping numbers exact.
func parse(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not JSON: more than one value")
	}
	if v == nil {
		return nil, errors.New("null is not a key or value")
	}
	return v, nil
}

func checkSize(typ btf.Type, size uint32) error {
	if typ == nil {
		return nil
	}
	n, err := btf.Sizeof(typ)
	if err != nil {
		return fmt.Errorf("BTF type %s: %w", typeName(typ), err)
	}
	if uint32(n) != size {
		return fmt.Errorf("BTF type %s is %d bytes, the map's is %d", typeName(typ), n, size)
	}
	return nil
}

// encode writes v, of type typ, into dst, which is exactly its size.
func encode(dst []byte, v any, typ btf.Type) error {
	if s, ok := v.(string); ok && isHex(s) {
		return encodeHex(dst, s)
	}
	if typ == nil {
		return encodeUntyped(dst, v)
	}
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		return encodeInt(dst, v, t)
	case *btf.Enum:
		return encodeEnum(dst, v, t)
	case *btf.Struct:
		return encodeMembers(dst, v, "struct "+t.Name, t.Members)
	case *btf.Union:
		return encodeMembers(dst, v, "union "+t.Name, t.Members)
	case *btf.Array:
		return encodeArray(dst, v, t)
	}
	return fmt.Errorf("cannot encode %s from JSON; use \"0x…\" hex (%d bytes)", typeName(typ), len(dst))
}

func isHex(s string) bool {
	return strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")
}

func encodeHex(dst []byte, s string) error {
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return fmt.Errorf("%q is not hex bytes", s)
	}
	if len(b) != len(dst) {
		return fmt.Errorf("want %d bytes, got %s (%d bytes)", len(dst), s, len(b))
	}
	copy(dst, b)
	return nil
}

// encodeUntyped accepts what needs no BTF: an integer of the exact size.
func encodeUntyped(dst []byte, v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("%s needs the map's BTF, which it has none of; use a number or \"0x…\" hex (%d bytes)", describe(v), len(dst))
	}
	return putInteger(dst, string(n), eitherInt)
}

// describe names a JSON value for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", v)
	case bool:
		return fmt.Sprint(v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}

// typeName names a BTF type as C does: "__u32", "struct rule", "char[16]".
func typeName(typ btf.Type) string {
	switch t := typ.(type) {
	case *btf.Struct:
		return "struct " + t.Name
	case *btf.Union:
		return "union " + t.Name
	case *btf.Enum:
		return "enum " + t.Name
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", typeName(t.Type), t.Nelems)
	case *btf.Const:
		return typeName(t.Type)
	case *btf.Volatile:
		return typeName(t.Type)
	}
	if name := typ.TypeName(); name != "" {
		return name
	}
	return fmt.Sprint(typ)
}
