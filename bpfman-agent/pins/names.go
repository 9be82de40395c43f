package pins

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen bounds a path element made from API input. A Kubernetes UID
// is 36 characters, a sha256 hex digest 64.
const MaxNameLen = 128

// ErrInvalidName is wrapped by every ValidateName failure.
var ErrInvalidName = errors.New("invalid name")

// ValidateName checks that name can safely be one element of a bpffs path:
// non-empty, at most MaxNameLen bytes of [A-Za-z0-9_-]. Dots are refused
// because bpffs itself refuses them (EPERM), which also rules out "." and
// "..". what names the field in the error ("uid", "revision").
func ValidateName(what, name string) error {
	return validate(what, name, "-")
}

// ValidateMapName checks a map name taken from an ELF: C identifiers, and
// the dot-prefixed data sections (".rodata", ".bss", ".data.custom").
func ValidateMapName(name string) error {
	if strings.Trim(name, ".") == "" {
		return fmt.Errorf("map %q: %w", name, ErrInvalidName)
	}
	return validate("map", name, ".")
}

// mapPinName encodes a valid map name as a bpffs file name: dots, which
// bpffs refuses, become dashes, which C identifiers never contain.
func mapPinName(name string) string { return strings.ReplaceAll(name, ".", "-") }

// mapNameOf decodes mapPinName.
func mapNameOf(pinName string) string { return strings.ReplaceAll(pinName, "-", ".") }

func validate(what, name, extra string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: %w: empty", what, ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%s %.20q...: %w: longer than %d bytes", what, name, ErrInvalidName, MaxNameLen)
	}
	for _, c := range []byte(name) {
		if !alnum(c) && c != '_' && !strings.ContainsRune(extra, rune(c)) {
			return fmt.Errorf("%s %q: %w: character %q not in [A-Za-z0-9_%s]", what, name, ErrInvalidName, c, extra)
		}
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
