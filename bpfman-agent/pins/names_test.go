package pins

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"5f0c3b0e-8d2a-4f57-9a64-2f1a3b0c9d11", true},
		{"rev-1_abc", true},
		{"rev.1", false},
		{"A", true},
		{strings.Repeat("a", MaxNameLen), true},
		{"", false},
		{strings.Repeat("a", MaxNameLen+1), false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"a/b", false},
		{"../etc", false},
		{"a b", false},
		{"a\x00b", false},
		{"é", false},
	} {
		err := ValidateName("uid", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, does not wrap ErrInvalidName", tc.name, err)
		}
	}
}

func TestMapPinNameRoundTrip(t *testing.T) {
	for _, name := range []string{"counts", ".rodata", ".data.custom", "a_b"} {
		pin := mapPinName(name)
		if strings.Contains(pin, ".") || mapNameOf(pin) != name {
			t.Errorf("map %q -> pin %q -> %q", name, pin, mapNameOf(pin))
		}
	}
}

func TestValidateMapName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"counts", true},
		{".rodata", true},
		{".rodata.str1.1", true},
		{"a-b", false},
		{".", false},
		{"..", false},
		{"", false},
		{"a/b", false},
		{"./x", false},
	} {
		if err := ValidateMapName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateMapName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"uid-1", "..", "a/b", ".rodata", "x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName("uid", name) == nil && strings.ContainsAny(name, "./\x00") {
			t.Fatalf("ValidateName accepted %q", name)
		}
		if ValidateMapName(name) == nil && (strings.ContainsAny(mapPinName(name), "./\x00") || mapNameOf(mapPinName(name)) != name) {
			t.Fatalf("ValidateMapName accepted %q (pin name %q)", name, mapPinName(name))
		}
	})
}
