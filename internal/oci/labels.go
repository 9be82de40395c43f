package oci

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Labels of a bpfman-format bytecode image's config.
const (
	// LabelPrograms holds a JSON object: program (function) name → type,
	// e.g. {"count_openat":"tracepoint"}.
	LabelPrograms = "io.ebpf.programs"
	// LabelMaps holds a JSON object: map name → type, e.g. {"counts":"hash"}.
	LabelMaps = "io.ebpf.maps"
	// labelFunction and labelProgramType are bpfman's older single-program
	// labels, read when LabelPrograms is absent.
	labelFunction    = "io.ebpf.bpf_function_name"
	labelProgramType = "io.ebpf.program_type"
)

// ErrUnlabeled is wrapped by ParseLabels' error for a config that names
// no program: neither LabelPrograms nor bpfman's older single-program
// labels.
var ErrUnlabeled = errors.New("missing label " + LabelPrograms)

// Bounds on the label content; they keep a hostile image's labels from
// turning into huge status messages or pin paths.
const (
	maxLabelEntries = 1024
	maxNameLen      = 255
	maxTypeLen      = 64
)

// ParseLabels reads the programs and maps of a bytecode image from its config
// labels. The programs label is required and must name at least one program;
// the maps label is optional. Names are C identifiers (maps may also contain
// '.', as in ".rodata"); types are short words such as "tracepoint".
func ParseLabels(labels map[string]string) (programs, maps map[string]string, err error) {
	programs, err = parsePrograms(labels)
	if err != nil {
		return nil, nil, err
	}
	maps = map[string]string{}
	if raw, ok := labels[LabelMaps]; ok {
		if maps, err = parseLabel(LabelMaps, raw); err != nil {
			return nil, nil, err
		}
	}
	return programs, maps, nil
}

func parsePrograms(labels map[string]string) (map[string]string, error) {
	raw, ok := labels[LabelPrograms]
	if !ok {
		return legacyPrograms(labels)
	}
	programs, err := parseLabel(LabelPrograms, raw)
	if err == nil && len(programs) == 0 {
		err = fmt.Errorf("label %s: names no program", LabelPrograms)
	}
	return programs, err
}

func legacyPrograms(labels map[string]string) (map[string]string, error) {
	fn, typ := labels[labelFunction], labels[labelProgramType]
	if fn == "" || typ == "" {
		return nil, fmt.Errorf("%w: not a bpfman bytecode image", ErrUnlabeled)
	}
	programs := map[string]string{fn: typ}
	return programs, checkEntries(LabelPrograms, programs)
}

func parseLabel(label, raw string) (map[string]string, error) {
	var entries map[string]string
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, fmt.Errorf("label %s: want a JSON object of name to type: %w", label, err)
	}
	if entries == nil {
		entries = map[string]string{}
	}
	return entries, checkEntries(label, entries)
}

func checkEntries(label string, entries map[string]string) error {
	if len(entries) > maxLabelEntries {
		return fmt.Errorf("label %s: %d entries, at most %d allowed", label, len(entries), maxLabelEntries)
	}
	for name, typ := range entries {
		if !validWord(name, maxNameLen, label == LabelMaps) {
			return fmt.Errorf("label %s: invalid name %.64q", label, name)
		}
		if !validWord(typ, maxTypeLen, false) {
			return fmt.Errorf("label %s: %s has invalid type %.64q", label, name, typ)
		}
	}
	return nil
}

// validWord reports whether s is a non-empty C identifier of at most max
// bytes; with dot, '.' is allowed too.
func validWord(s string, max int, dot bool) bool {
	if s == "" || len(s) > max || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !isIdentByte(c) && !(dot && c == '.') {
			return false
		}
	}
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// labelsFor returns the config labels describing b's programs and maps.
func labelsFor(b Bytecode) (map[string]string, error) {
	labels := map[string]string{}
	for label, entries := range map[string]map[string]string{LabelPrograms: b.Programs, LabelMaps: b.Maps} {
		if entries == nil {
			entries = map[string]string{}
		}
		raw, err := json.Marshal(entries)
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", label, err)
		}
		labels[label] = string(raw)
	}
	return labels, nil
}
