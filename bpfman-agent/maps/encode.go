package maps

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

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
	buf := make([]byte, size)
	if err := newEncoder(typ, size).into(buf, raw); err != nil {
		return nil, err
	}
	return buf, nil
}

// encoder encodes the keys or the values of one map: its BTF type is
// checked against the map's size once, not once per entry.
type encoder struct {
	typ     btf.Type
	sizeErr error
}

func newEncoder(typ btf.Type, size uint32) encoder {
	return encoder{typ: typ, sizeErr: checkSize(typ, size)}
}

// into encodes raw into dst, the map's key or value size, as Encode does.
// The JSON is read as it is encoded, never built; if it turns out not to
// be JSON, the error is encoding/json's, as it always was.
func (e encoder) into(dst []byte, raw []byte) error {
	clear(dst)
	err := e.sizeErr
	if err == nil {
		err = encodeText(dst, raw, e.typ)
	}
	if err == nil {
		return nil
	}
	if jerr := checkJSON(raw); jerr != nil {
		return &Error{Err: jerr}
	}
	return within("", err)
}

// encodeText encodes the one JSON value of raw into dst.
func encodeText(dst []byte, raw []byte, typ btf.Type) error {
	r := jsonReader{b: raw}
	t, err := r.value()
	if err != nil {
		return err
	}
	if t.kind == kindNull {
		return errNull
	}
	if err := encode(dst, &r, t, typ); err != nil {
		return err
	}
	return r.end()
}

var errNull = errors.New("null is not a key or value")

// checkJSON says, as encoding/json does, why raw is not one JSON value
// other than null; nil if it is.
func checkJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return errors.New("not JSON: more than one value")
	}
	if v == nil {
		return errNull
	}
	return nil
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

// encode writes the value t (read from r, whose composite values it reads
// on), of type typ, into dst, which is exactly its size.
func encode(dst []byte, r *jsonReader, t token, typ btf.Type) error {
	if t.kind == kindString && isHex(t.text) {
		return encodeHex(dst, t.text)
	}
	if typ == nil {
		return encodeUntyped(dst, t)
	}
	switch u := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		return encodeInt(dst, t, u)
	case *btf.Enum:
		return encodeEnum(dst, t, u)
	case *btf.Struct:
		return encodeMembers(dst, r, t, u, u.Members)
	case *btf.Union:
		return encodeMembers(dst, r, t, u, u.Members)
	case *btf.Array:
		return encodeArray(dst, r, t, u)
	}
	return fmt.Errorf("cannot encode %s from JSON; use \"0x…\" hex (%d bytes)", typeName(typ), len(dst))
}

func isHex[T string | []byte](s T) bool {
	return len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

func encodeHex(dst []byte, s []byte) error {
	digits := s[2:]
	if len(digits) == 2*len(dst) {
		if _, err := hex.Decode(dst, digits); err == nil {
			return nil
		}
	}
	b, err := hex.DecodeString(string(digits))
	if err != nil {
		return fmt.Errorf("%q is not hex bytes", s)
	}
	return fmt.Errorf("want %d bytes, got %s (%d bytes)", len(dst), s, len(b))
}

// encodeUntyped accepts what needs no BTF: an integer of the exact size.
func encodeUntyped(dst []byte, t token) error {
	if t.kind != kindNumber {
		return fmt.Errorf("%s needs the map's BTF, which it has none of; use a number or \"0x…\" hex (%d bytes)", describe(t), len(dst))
	}
	return putInteger(dst, t.text, eitherInt)
}

// describe names a JSON value for an error message.
func describe(t token) string {
	switch t.kind {
	case kindNull:
		return "null"
	case kindString:
		return fmt.Sprintf("%q", t.text)
	case kindBool:
		return fmt.Sprint(t.b)
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return string(t.text)
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
