package maps

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		typ  btf.Type
		size uint32
		want string // hex of the bytes, little endian host
		err  string
	}{
		{"u32 number", `80`, u32, 4, "50000000", ""},
		{"untyped number", `258`, nil, 2, "0201", ""},
		{"untyped negative", `-1`, nil, 4, "ffffffff", ""},
		{"untyped max u64", `18446744073709551615`, nil, 8, "ffffffffffffffff", ""},
		{"s32 negative", `-2`, s32, 4, "feffffff", ""},
		{"s64 min", `-9223372036854775808`, s64, 8, "0000000000000080", ""},
		{"u8 bool", `true`, boo, 1, "01", ""},
		{"u8 max", `255`, u8, 1, "ff", ""},
		{"hex", `"0x0a000001"`, u32, 4, "0a000001", ""},
		{"hex untyped", `"0xdeadbeefcafe"`, nil, 6, "deadbeefcafe", ""},
		{"ipv4 network order", `"10.0.0.1"`, u32, 4, "0a000001", ""},
		{"decimal string", `"80"`, u32, 4, "50000000", ""},
		{"ipv6", `"2001:db8::1"`, ip6, 16, "20010db8000000000000000000000001", ""},
		{"char array", `"nginx"`, comm, 8, "6e67696e78000000", ""},
		{"array elements", `[1, -1]`, pair, 4, "0100ffff", ""},
		{"enum by name", `"BLUE"`, color, 4, "02000000", ""},
		{"struct", `{"addr": "10.0.0.1", "port": 80}`, rule, 16, "0a000001500000000000000000000000", ""},
		{"struct missing members zero", `{}`, rule, 16, "00000000000000000000000000000000", ""},
		{"nested struct", `{"rule": {"hits": 1}, "name": "ab"}`, outer, 24, "000000000000000001000000000000006162000000000000", ""},
		{"struct as hex", `"0x0a000001500000000000000000000001"`, rule, 16, "0a000001500000000000000000000001", ""},

		{"hex too short", `"0x0a00"`, u32, 4, "", "want 4 bytes, got 0x0a00 (2 bytes)"},
		{"bad hex", `"0xzz"`, u32, 4, "", `"0xzz" is not hex bytes`},
		{"bad ipv4", `{"addr": "10.0.0.300"}`, rule, 16, "", `addr: "10.0.0.300" is not an IPv4 address`},
		{"unknown field", `{"prot": 6}`, rule, 16, "", `unknown field "prot" (struct rule has: addr, port, hits)`},
		{"u8 out of range", `256`, u8, 1, "", "256 is out of range for a 1-byte integer [0, 255]"},
		{"s16 out of range", `40000`, s16, 2, "", "40000 is out of range for a 2-byte integer [-32768, 32767]"},
		{"negative unsigned", `-1`, u32, 4, "", "-1 is negative, the type is unsigned"},
		{"untyped too big", `65536`, nil, 2, "", "65536 is out of range for a 2-byte integer [-32768, 65535]"},
		{"not an integer", `1.5`, u32, 4, "", `"1.5" is not an integer`},
		{"number of odd width", `1`, nil, 3, "", "1: a number encodes 1, 2, 4 or 8 bytes, want 3 bytes"},
		{"string without btf", `"10.0.0.1"`, nil, 4, "", `"10.0.0.1" needs the map's BTF`},
		{"bool of 4 bytes", `true`, u32, 4, "", "true: a bool is 1 byte, want 4 bytes"},
		{"btf size mismatch", `1`, u64, 4, "", "BTF type __u64 is 8 bytes, the map's is 4"},
		{"string too long", `"abcdefghi"`, comm, 8, "", `"abcdefghi" is 9 bytes, longer than the 8-byte array`},
		{"bad ipv6", `"fe80::zz"`, ip6, 16, "", `"fe80::zz" is not an IPv6 address`},
		{"array element", `[1, 99999]`, pair, 4, "", "[1]: 99999 is out of range"},
		{"null member", `{"port": null}`, rule, 16, "", "port: null is not a value of __u16"},
		{"nested path", `{"rule": {"port": -1}}`, outer, 24, "", "rule.port: -1 is negative"},
		{"not an object", `5`, rule, 16, "", "5 is not an object of struct rule (fields: addr, port, hits)"},
		{"null", `null`, u32, 4, "", "null is not a key or value"},
		{"not json", `{`, u32, 4, "", "not JSON"},
		{"two values", `1 2`, u32, 4, "", "not JSON: more than one value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(json.RawMessage(tc.raw), tc.typ, tc.size)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("Encode(%s) = %x, %v; want error containing %q", tc.raw, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode(%s): %v", tc.raw, err)
			}
			if hex.EncodeToString(got) != tc.want {
				t.Fatalf("Encode(%s) = %x, want %s", tc.raw, got, tc.want)
			}
		})
	}
}

func TestEncodeBlocklistBTF(t *testing.T) {
	spec := blocklistSpec(t)
	key, err := Encode(json.RawMessage(`{"addr": "192.168.1.2"}`), spec.Key, spec.KeySize)
	if err != nil || !bytes.Equal(key, []byte{192, 168, 1, 2}) {
		t.Fatalf("key = %v, %v; want 192.168.1.2 in network order", key, err)
	}
	_, err = Encode(json.RawMessage(`{"drop": 1}`), spec.Value, spec.ValueSize)
	if err == nil || err.Error() != `unknown field "drop" (struct verdict has: drops)` {
		t.Fatalf("value error = %v", err)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ  btf.Type
		hex  string
		want string
	}{
		{u32, "0a000001", "16777226"},
		{s16, "ffff", "-1"},
		{boo, "01", "true"},
		{color, "02000000", `"BLUE"`},
		{comm, "6e67696e78000000", `"nginx"`},
		{comm, "0100000000000000", `"0x0100000000000000"`},
		{pair, "0100ffff", "[1,-1]"},
		{ip6, "20010db8000000000000000000000001", `"0x20010db8000000000000000000000001"`},
		{rule, "0a000001500000000100000000000000", `{"addr":16777226,"port":80,"hits":1}`},
		{nil, "010203", `"0x010203"`},
		{u64, "01", `"0x01"`}, // size does not match: hex
	} {
		b, _ := hex.DecodeString(tc.hex)
		got := Decode(b, tc.typ)
		if string(got) != tc.want {
			t.Errorf("Decode(%s, %v) = %s, want %s", tc.hex, tc.typ, got, tc.want)
		}
		back, err := Encode(got, tc.typ, uint32(len(b)))
		if tc.typ == u64 {
			continue
		}
		if err != nil || !bytes.Equal(back, b) {
			t.Errorf("Encode(Decode(%s)) = %x, %v", tc.hex, back, err)
		}
	}
}
