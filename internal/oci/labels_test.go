package oci_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/internal/oci"
)

func TestParseLabels(t *testing.T) {
	tests := []struct {
		name           string
		labels         map[string]string
		programs, maps map[string]string
	}{
		{
			name:     "bpfman labels",
			labels:   map[string]string{oci.LabelPrograms: `{"count_openat":"tracepoint","pass":"xdp"}`, oci.LabelMaps: `{"counts":"per_cpu_array",".rodata":"array"}`},
			programs: map[string]string{"count_openat": "tracepoint", "pass": "xdp"},
			maps:     map[string]string{"counts": "per_cpu_array", ".rodata": "array"},
		},
		{
			name:     "no maps label",
			labels:   map[string]string{oci.LabelPrograms: `{"pass":"xdp"}`},
			programs: map[string]string{"pass": "xdp"},
			maps:     map[string]string{},
		},
		{
			name:     "legacy single program labels",
			labels:   map[string]string{"io.ebpf.bpf_function_name": "pass", "io.ebpf.program_type": "xdp", "io.ebpf.filename": "xdp_pass.o"},
			programs: map[string]string{"pass": "xdp"},
			maps:     map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			programs, mapsGot, err := oci.ParseLabels(tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(programs, tt.programs) || !maps.Equal(mapsGot, tt.maps) {
				t.Fatalf("got %v %v, want %v %v", programs, mapsGot, tt.programs, tt.maps)
			}
		})
	}
}

func TestParseLabelsErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"no labels":         nil,
		"not json":          {oci.LabelPrograms: `{"pass":`},
		"array":             {oci.LabelPrograms: `["pass"]`},
		"number type":       {oci.LabelPrograms: `{"pass":1}`},
		"no program":        {oci.LabelPrograms: `{}`},
		"null":              {oci.LabelPrograms: `null`},
		"path in name":      {oci.LabelPrograms: `{"../../etc/x":"xdp"}`},
		"slash in map name": {oci.LabelPrograms: `{"pass":"xdp"}`, oci.LabelMaps: `{"a/b":"hash"}`},
		"dot in program":    {oci.LabelPrograms: `{".text":"xdp"}`},
		"empty type":        {oci.LabelPrograms: `{"pass":""}`},
		"long name":         {oci.LabelPrograms: `{"` + strings.Repeat("a", 256) + `":"xdp"}`},
		"bad maps json":     {oci.LabelPrograms: `{"pass":"xdp"}`, oci.LabelMaps: `{`},
	}
	for name, labels := range tests {
		if p, m, err := oci.ParseLabels(labels); err == nil {
			t.Errorf("%s: got %v %v, want an error", name, p, m)
		}
	}
}

func FuzzParseLabels(f *testing.F) {
	f.Add(`{"count_openat":"tracepoint"}`, `{"openat_count":"array"}`)
	f.Add(`{"pass":"xdp","counter":"tc"}`, ``)
	f.Fuzz(func(t *testing.T, programs, mapsLabel string) {
		labels := map[string]string{oci.LabelPrograms: programs}
		if mapsLabel != "" {
			labels[oci.LabelMaps] = mapsLabel
		}
		p, m, err := oci.ParseLabels(labels)
		if err != nil {
			return
		}
		if len(p) == 0 || m == nil {
			t.Fatalf("accepted labels with no program: %v %v", p, m)
		}
		for name := range p {
			if strings.ContainsAny(name, "/.\x00") {
				t.Fatalf("accepted program name %q", name)
			}
		}
	})
}
