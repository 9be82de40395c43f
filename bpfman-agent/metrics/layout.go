package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
)

// Labels the exporter adds itself; a key member of the same name is
// labelled key_<name>. "node" is added by an agent that shares its
// process with others.
var reserved = map[string]bool{"field": true, "program": true, "node": true}

var notLabel = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// part is a slice of a key or value with its type.
type part struct {
	name      string
	off, size int
	typ       btf.Type
}

func (p part) of(b []byte) []byte { return b[p.off : p.off+p.size] }

// keyLayout turns a key into label values: one label per member of a
// struct key, else one label "key".
type keyLayout []part

func newKeyLayout(typ btf.Type, size int) keyLayout {
	if typ != nil {
		if n, err := btf.Sizeof(typ); err != nil || n != size {
			typ = nil // BTF that does not match the map: show bytes
		}
	}
	if st, ok := btf.UnderlyingType(typ).(*btf.Struct); ok {
		if parts, ok := members(st); ok && len(parts) > 0 {
			for i := range parts {
				parts[i].name = labelName(parts[i].name)
			}
			return parts
		}
	}
	return keyLayout{{name: "key", size: size, typ: typ}}
}

// members lists the named, byte-aligned members of st; ok is false if
// st has any other (a bitfield, an anonymous union).
func members(st *btf.Struct) ([]part, bool) {
	out := make([]part, 0, len(st.Members))
	for _, m := range st.Members {
		size, err := btf.Sizeof(m.Type)
		if err != nil || m.Name == "" || m.BitfieldSize > 0 || m.Offset%8 != 0 {
			return nil, false
		}
		out = append(out, part{name: m.Name, off: int(m.Offset / 8), size: size, typ: m.Type})
	}
	return out, true
}

func labelName(member string) string {
	name := notLabel.ReplaceAllString(member, "_")
	if reserved[name] || strings.HasPrefix(name, "__") {
		return "key_" + strings.TrimLeft(name, "_")
	}
	return name
}

func (l keyLayout) names() []string {
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = p.name
	}
	return out
}

func (l keyLayout) values(key []byte) []string {
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = labelValue(p, p.of(key))
	}
	return out
}

// labelValue formats one member: an address-named member of 4 or 16
// bytes as an IP address (network order, as packets carry it), anything
// else as maps.Decode shows it (integers in decimal, enums by name).
func labelValue(p part, b []byte) string {
	if isAddress(p.name) {
		if a, ok := netip.AddrFromSlice(b); ok {
			return a.String()
		}
	}
	raw := maps.Decode(b, p.typ)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// isAddress says whether a member name looks like an IP address's:
// saddr, dst_addr, ip, src_ip, ipv4, srcip, …
func isAddress(name string) bool {
	name = strings.ToLower(name)
	if strings.Contains(name, "addr") {
		return true
	}
	for _, tok := range strings.Split(name, "_") {
		if addressWords[tok] {
			return true
		}
	}
	return false
}

var addressWords = map[string]bool{
	"ip": true, "ip4": true, "ipv4": true, "ip6": true, "ipv6": true,
	"srcip": true, "dstip": true, "sip": true, "dip": true,
}

// field is a number in a value.
type field struct {
	part
	signed bool
}

// valueLayout turns a value into numbers: the value itself if it is an
// integer, else one number per integer member of a struct (named, for
// label "field").
type valueLayout struct {
	fields []field
	named  bool
}

var errNotNumeric = errors.New("value is neither an integer nor a struct with integer members")

func newValueLayout(typ btf.Type, size int) (valueLayout, error) {
	if typ == nil {
		f, ok := number(part{size: size}, nil)
		if !ok {
			return valueLayout{}, fmt.Errorf("%w (no BTF, %d bytes)", errNotNumeric, size)
		}
		return valueLayout{fields: []field{f}}, nil
	}
	if n, err := btf.Sizeof(typ); err != nil || n != size {
		return valueLayout{}, fmt.Errorf("value BTF %s does not match the map's %d-byte values", typ, size)
	}
	if f, ok := number(part{size: size}, typ); ok {
		return valueLayout{fields: []field{f}}, nil
	}
	if st, ok := btf.UnderlyingType(typ).(*btf.Struct); ok {
		return structFields(st)
	}
	return valueLayout{}, fmt.Errorf("%w: %s", errNotNumeric, typ)
}

func structFields(st *btf.Struct) (valueLayout, error) {
	l := valueLayout{named: true}
	for _, m := range st.Members {
		size, err := btf.Sizeof(m.Type)
		if err != nil || m.Name == "" || m.BitfieldSize > 0 || m.Offset%8 != 0 {
			continue
		}
		if f, ok := number(part{name: m.Name, off: int(m.Offset / 8), size: size}, m.Type); ok {
			l.fields = append(l.fields, f)
		}
	}
	if len(l.fields) == 0 {
		return l, fmt.Errorf("%w: struct %s", errNotNumeric, st.Name)
	}
	return l, nil
}

// number makes p a field if its type is an integer or enum (or, without
// BTF, if it is 1, 2, 4 or 8 bytes).
func number(p part, typ btf.Type) (field, bool) {
	if p.size != 1 && p.size != 2 && p.size != 4 && p.size != 8 {
		return field{}, false
	}
	switch t := btf.UnderlyingType(typ).(type) {
	case nil:
		return field{part: p}, typ == nil
	case *btf.Int:
		return field{part: p, signed: t.Encoding == btf.Signed}, true
	case *btf.Enum:
		return field{part: p, signed: t.Signed}, true
	}
	return field{}, false
}

// read is the field's number in b.
func (f field) read(b []byte) float64 {
	u, _ := maps.Uint(f.of(b)) // number() admits 1, 2, 4 and 8 bytes only
	if f.signed {
		shift := 64 - 8*f.size
		return float64(int64(u<<shift) >> shift)
	}
	return float64(u)
}

// sum is the field summed over every CPU's copy of a value.
func (f field) sum(perCPU [][]byte) float64 {
	var total float64
	for _, b := range perCPU {
		total += f.read(b)
	}
	return total
}
