package loader

import (
	"slices"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
)

func TestSpecSetsGlobals(t *testing.T) {
	spec, err := Spec(bpf.TracepointCounter, "count_openat", map[string]string{
		"filter_pid": "42",
		"increment":  "0x0700000000000000",
	})
	if err != nil {
		t.Fatal(err)
	}
	var pid uint32
	var inc uint64
	if err := spec.Variables["filter_pid"].Get(&pid); err != nil || pid != 42 {
		t.Errorf("filter_pid = %d, %v; want 42", pid, err)
	}
	if err := spec.Variables["increment"].Get(&inc); err != nil || inc != 7 {
		t.Errorf("increment = %d, %v; want 7 (little-endian hex)", inc, err)
	}
	if got := MapsOf(spec, "count_openat"); !slices.Equal(got, []string{".rodata", "counts", "total"}) &&
		!slices.Equal(got, []string{"counts", ".rodata", "total"}) {
		t.Errorf("MapsOf = %v", got)
	}
}

func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		obj     []byte
		program string
		globals map[string]string
		reason  string
		mention string
	}{
		{"not an ELF", []byte("hello"), "count_openat", nil, ReasonInvalidObject, "parse ELF"},
		{"no such program", bpf.TracepointCounter, "nope", nil, ReasonProgramNotFound, "count_openat"},
		{"unknown variable", bpf.TracepointCounter, "count_openat", map[string]string{"nope": "1"}, ReasonInvalidGlobalData, `"nope"`},
		{"wrong width hex", bpf.TracepointCounter, "count_openat", map[string]string{"filter_pid": "0x0102"}, ReasonInvalidGlobalData, "4 bytes"},
		{"out of range", bpf.TracepointCounter, "count_openat", map[string]string{"filter_pid": "4294967296"}, ReasonInvalidGlobalData, "filter_pid"},
		{"negative unsigned", bpf.TracepointCounter, "count_openat", map[string]string{"increment": "-1"}, ReasonInvalidGlobalData, "unsigned 64-bit"},
		{"not a number", bpf.TracepointCounter, "count_openat", map[string]string{"increment": "lots"}, ReasonInvalidGlobalData, "increment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Spec(tc.obj, tc.program, tc.globals)
			if Reason(err) != tc.reason || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v; want reason %s mentioning %s", err, tc.reason, tc.mention)
			}
			if !Terminal(err) {
				t.Errorf("Terminal(%v) = false", err)
			}
		})
	}
}

func TestIdentifier(t *testing.T) {
	for s, want := range map[string]bool{"count_openat": true, "_x1": true, "": false, "1x": false, `a"b`: false, "a.b": false} {
		if identifier(s) != want {
			t.Errorf("identifier(%q) = %v", s, !want)
		}
	}
}
