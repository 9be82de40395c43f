package maps

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/cilium/ebpf/btf"
)

// Decode turns the bytes of a key or value back into JSON, for status and
// export: integers as numbers, bools as bools, enums by name, structs as
// objects, char arrays as strings, other arrays as JSON arrays, anything
// else (or bytes that do not match typ's size) as "0x…" hex; without
// typ, 1, 2, 4 or 8 bytes as an unsigned number. It is the
// inverse of Encode in this sense: Encode(Decode(b, typ), typ, len(b))
// gives b back, except for nonzero padding bytes between struct members.
// An IPv4 address decodes as the number it is in host byte order.
func Decode(b []byte, typ btf.Type) json.RawMessage {
	if typ != nil {
		if n, err := btf.Sizeof(typ); err != nil || n != len(b) {
			return hexJSON(b)
		}
	}
	return decode(b, typ)
}

func decode(b []byte, typ btf.Type) json.RawMessage {
	switch t := btf.UnderlyingType(typ).(type) {
	case nil:
		return decodeInteger(b, unsignedInt)
	case *btf.Int:
		return decodeInt(b, t)
	case *btf.Enum:
		return decodeEnum(b, t)
	case *btf.Struct:
		return decodeMembers(b, t.Members)
	case *btf.Array:
		return decodeArray(b, t)
	}
	return hexJSON(b)
}

func hexJSON(b []byte) json.RawMessage {
	return json.RawMessage(`"0x` + hex.EncodeToString(b) + `"`)
}

func decodeInt(b []byte, t *btf.Int) json.RawMessage {
	if t.Encoding == btf.Bool && len(b) == 1 && b[0] <= 1 {
		return json.RawMessage(strconv.FormatBool(b[0] == 1))
	}
	return decodeInteger(b, signOf(t.Encoding))
}

// decodeInteger reads 1, 2, 4 or 8 bytes as a number, anything else as hex.
func decodeInteger(b []byte, sg sign) json.RawMessage {
	u, ok := Uint(b)
	if !ok {
		return hexJSON(b)
	}
	if sg == signedInt {
		shift := 64 - 8*len(b)
		return json.RawMessage(strconv.FormatInt(int64(u<<shift)>>shift, 10))
	}
	return json.RawMessage(strconv.FormatUint(u, 10))
}

func decodeEnum(b []byte, t *btf.Enum) json.RawMessage {
	n := decodeInteger(b, unsignedInt)
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return n
	}
	for _, ev := range t.Values {
		if ev.Value == u {
			name, _ := json.Marshal(ev.Name)
			return name
		}
	}
	return decodeInteger(b, signOf(encoding(t.Signed)))
}

func decodeMembers(b []byte, members []btf.Member) json.RawMessage {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for _, m := range members {
		field, ok := decodeMember(b, m)
		if !ok {
			return hexJSON(b)
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(m.Name)
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(field)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// decodeMember decodes one member; ok is false where Encode could not
// write it back (a bitfield, an anonymous member).
func decodeMember(b []byte, m btf.Member) (json.RawMessage, bool) {
	size, err := btf.Sizeof(m.Type)
	off := int(m.Offset / 8)
	if err != nil || m.Name == "" || m.BitfieldSize > 0 || m.Offset%8 != 0 || off+size > len(b) {
		return nil, false
	}
	return decode(b[off:off+size], m.Type), true
}

func decodeArray(b []byte, t *btf.Array) json.RawMessage {
	if elem, ok := btf.UnderlyingType(t.Type).(*btf.Int); ok && elem.Size == 1 {
		return decodeBytes(b, elem)
	}
	if t.Nelems == 0 {
		return json.RawMessage("[]")
	}
	size := len(b) / int(t.Nelems)
	elems := make([]json.RawMessage, t.Nelems)
	for i := range elems {
		elems[i] = decode(b[i*size:(i+1)*size], t.Type)
	}
	out, _ := json.Marshal(elems)
	return out
}

// decodeBytes shows a char array holding text as a string, other byte
// arrays as hex.
func decodeBytes(b []byte, elem *btf.Int) json.RawMessage {
	text := string(bytes.TrimRight(b, "\x00"))
	if !isChar(elem) || !printable(text) || len(text) >= 2 && isHex(text) {
		return hexJSON(b)
	}
	out, _ := json.Marshal(text)
	return out
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
