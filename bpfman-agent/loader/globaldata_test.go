package loader

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestEncode(t *testing.T) {
	u32 := func(n uint32) []byte { return binary.NativeEndian.AppendUint32(nil, n) }
	u64 := func(n uint64) []byte { return binary.NativeEndian.AppendUint64(nil, n) }
	for _, tc := range []struct {
		value string
		size  uint32
		kind  Kind
		want  []byte // nil: error expected
	}{
		{"123", 4, KindUnsigned, u32(123)},
		{"4294967295", 4, KindUnsigned, u32(0xffffffff)},
		{"4294967296", 4, KindUnsigned, nil},
		{"-1", 4, KindUnsigned, nil},
		{"-5", 4, KindSigned, u32(0xfffffffb)},
		{"2147483647", 4, KindSigned, u32(0x7fffffff)},
		{"2147483648", 4, KindSigned, nil},
		{"-2147483649", 4, KindSigned, nil},
		{"-5", 4, KindUnknown, u32(0xfffffffb)},
		{"4294967295", 4, KindUnknown, u32(0xffffffff)},
		{"-128", 1, KindSigned, []byte{0x80}},
		{"255", 1, KindUnsigned, []byte{0xff}},
		{"256", 1, KindUnsigned, nil},
		{"18446744073709551615", 8, KindUnsigned, u64(^uint64(0))},
		{"true", 1, KindBool, []byte{1}},
		{"false", 8, KindUnsigned, u64(0)},
		{"1", 1, KindBool, []byte{1}},
		{"2", 1, KindBool, nil},
		{"0x0a0b0c0d", 4, KindUnsigned, []byte{0x0a, 0x0b, 0x0c, 0x0d}},
		{"0x0a0b0c", 4, KindUnsigned, nil},
		{"0x0a0b0c0d0e", 4, KindUnsigned, nil},
		{"0xzz", 1, KindUnsigned, nil},
		{"0x0102030405", 5, KindOther, []byte{1, 2, 3, 4, 5}},
		{"7", 5, KindUnknown, nil},
		{"7", 4, KindOther, nil},
		{"", 4, KindUnsigned, nil},
		{"1.5", 4, KindUnsigned, nil},
		{" 1", 4, KindUnsigned, nil},
		{"0x", 0, KindOther, []byte{}},
	} {
		got, err := Encode(tc.value, tc.size, tc.kind)
		if tc.want == nil {
			if err == nil {
				t.Errorf("Encode(%q, %d, %v) = %x, want an error", tc.value, tc.size, tc.kind, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("Encode(%q, %d, %v) = %x, %v; want %x", tc.value, tc.size, tc.kind, got, err, tc.want)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"123", "-5", "true", "0x0a0b0c0d", "18446744073709551616", "0x"} {
		f.Add(s, uint32(4), uint8(KindUnsigned))
	}
	f.Fuzz(func(t *testing.T, value string, size uint32, kind uint8) {
		size %= 64
		got, err := Encode(value, size, Kind(kind%5))
		if err == nil && len(got) != int(size) {
			t.Fatalf("Encode(%q, %d) = %d bytes", value, size, len(got))
		}
	})
}
