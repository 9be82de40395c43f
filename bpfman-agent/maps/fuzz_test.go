package maps

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// fuzzTypes are the types FuzzEncode encodes into; nil is "no BTF" (4 bytes).
var fuzzTypes = []btf.Type{nil, u8, s16, u32, s64, boo, rule, comm, ip6, pair, color, outer}

// FuzzEncode checks that Encode never panics, accepts only JSON, returns
// exactly the size asked for, and that Decode reads its output back to
// the same bytes.
func FuzzEncode(f *testing.F) {
	for _, seed := range []string{`80`, `-1`, `"0x0a000001"`, `"10.0.0.1"`, `{"addr":"10.0.0.1","port":80}`,
		`{"rule":{"hits":1},"name":"ab"}`, `[1,-1]`, `"2001:db8::1"`, `true`, `"BLUE"`} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		typ := fuzzTypes[int(which)%len(fuzzTypes)]
		size := uint32(4)
		if typ != nil {
			n, _ := btf.Sizeof(typ)
			size = uint32(n)
		}
		b, err := Encode(json.RawMessage(raw), typ, size)
		if err != nil {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("Encode accepted %q, which is not JSON", raw)
		}
		if len(b) != int(size) {
			t.Fatalf("Encode(%q) gave %d bytes, want %d", raw, len(b), size)
		}
		back, err := Encode(Decode(b, typ), typ, size)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("Encode(Decode(%x)) = %x, %v (raw %q, type %v)", b, back, err, raw, typ)
		}
	})
}

// FuzzParseList: an entries artifact comes from a registry; no input may
// panic, only JSON parses, and a parsed list has a key and a value in
// every entry, each one JSON value.
func FuzzParseList(f *testing.F) {
	for _, seed := range []string{`[]`, `[{"key": 1, "value": 2}]`, `[{"key": {"addr": "10.0.0.1"}, "value": {}}]`,
		`[{"key": 1}]`, `[1, "x", null]`, `[{"key": 1, "value": 1}] x`, `{`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseList(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("ParseList accepted %q, which is not JSON", b)
		}
		for i, e := range entries {
			if isAbsent(e.Key) || isAbsent(e.Value) || !json.Valid(e.Key) || !json.Valid(e.Value) {
				t.Fatalf("entry %d parsed without a key or value: %+v", i, e)
			}
		}
	})
}

// FuzzParseIPv4: the fast IPv4 reader accepts only what netip reads as
// an IPv4 address, and reads it to the same bytes.
func FuzzParseIPv4(f *testing.F) {
	for _, seed := range []string{"10.0.0.1", "255.255.255.255", "0.0.0.0", "1.2.3.04", "256.0.0.1", "1.2.3", "1..2.3",
		"1.2.3.4.", "::ffff:1.2.3.4", "1.2.3.4%eth0", "01.2.3.4", "1.2.3.4 "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseIPv4([]byte(s))
		if !ok {
			return
		}
		want, err := netip.ParseAddr(s)
		if err != nil || !want.Is4() || want.As4() != a {
			t.Fatalf("parseIPv4(%q) = %v, netip reads %v, %v", s, a, want, err)
		}
	})
}

// FuzzParseDigits: the fast integer reader agrees with strconv wherever
// it reads a number.
func FuzzParseDigits(f *testing.F) {
	for _, seed := range []string{"0", "80", "007", "255", "256", "65535", "18446744073709551615", "-1", "1e3", "999999999999999999"} {
		f.Add(seed, uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, width, sg uint8) {
		bits := 8 << (width % 4)
		u, ok := parseDigits([]byte(s), bits, sign(sg%3))
		if !ok {
			return
		}
		want, err := parseInteger(s, bits, sign(sg%3))
		if err != nil || want != u {
			t.Fatalf("parseDigits(%q, %d bits, sign %d) = %d, strconv reads %d, %v", s, bits, sg%3, u, want, err)
		}
	})
}
