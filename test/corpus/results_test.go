package corpus

import (
	"fmt"
	"strings"
	"testing"
)

// want is today's result for one object of the corpus.
type want struct {
	build    string // a part of the build's refusal; "" if it builds
	maps     string // as inspect shows them: name:type, sorted
	programs []wantProgram
}

// wantProgram is today's result for one program: a part of the status
// message suffices (messages hold IDs and paths of the run).
type wantProgram struct {
	name, typ, kind, outcome, reason, message, traffic string
}

// expected holds today's results, by package/object.
var expected = map[string]want{
	"libxdp1/xdp-dispatcher.o": {build: "", maps: "", programs: []wantProgram{
		{"xdp_dispatcher", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
		{"xdp_pass", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpdump_bpf.o": {build: "", maps: "xdpdump_perf_map:perfeventarray", programs: []wantProgram{
		{"trace_on_entry", "fentry", "FentryProgram", Unsupported, "Unsupported", "Fentry programs cannot run on this node: loading fentry programs fails: operation not permitted", ""},
		{"trace_on_exit", "fexit", "FexitProgram", Unsupported, "Unsupported", "Fexit programs cannot run on this node: loading fexit programs fails: operation not permitted", ""},
	}},
	"libxdp1/xdpdump_xdp.o": {build: "", maps: "xdpdump_perf_map:perfeventarray", programs: []wantProgram{
		{"xdpdump", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpfilt_alw_all.o": {build: "", maps: "filter_ethernet:percpuhash filter_ipv4:percpuhash filter_ipv6:percpuhash filter_ports:percpuarray xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_alw_all", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpfilt_alw_eth.o": {build: "", maps: "filter_ethernet:percpuhash xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_alw_eth", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpfilt_alw_ip.o": {build: "", maps: "filter_ipv4:percpuhash filter_ipv6:percpuhash xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_alw_ip", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpfilt_alw_tcp.o": {build: "", maps: "filter_ports:percpuarray xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_alw_tcp", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpfilt_alw_udp.o": {build: "", maps: "filter_ports:percpuarray xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_alw_udp", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xdpfilt_dny_all.o": {build: "", maps: "filter_ethernet:percpuhash filter_ipv4:percpuhash filter_ipv6:percpuhash filter_ports:percpuarray xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_dny_all", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"libxdp1/xdpfilt_dny_eth.o": {build: "", maps: "filter_ethernet:percpuhash xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_dny_eth", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"libxdp1/xdpfilt_dny_ip.o": {build: "", maps: "filter_ipv4:percpuhash filter_ipv6:percpuhash xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_dny_ip", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"libxdp1/xdpfilt_dny_tcp.o": {build: "", maps: "filter_ports:percpuarray xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_dny_tcp", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"libxdp1/xdpfilt_dny_udp.o": {build: "", maps: "filter_ports:percpuarray xdp_stats_map:percpuarray", programs: []wantProgram{
		{"xdpfilt_dny_udp", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"libxdp1/xsk_def_xdp_prog.o": {build: "", maps: "xsks_map:xskmap", programs: []wantProgram{
		{"xsk_def_prog", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"libxdp1/xsk_def_xdp_prog_5.3.o": {build: "", maps: "xsks_map:xskmap", programs: []wantProgram{
		{"xsk_def_prog", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"xdp-tests/test_long_func_name.o": {build: "", maps: "", programs: []wantProgram{
		{"xdp_test_prog_with_a_long_name", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
		{"xdp_test_prog_with_a_long_name_too", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	"xdp-tests/xdp_drop.o": {build: "", maps: "", programs: []wantProgram{
		{"xdp_drop", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"xdp-tests/xdp_pass.o": {build: "", maps: "", programs: []wantProgram{
		{"xdp_pass", "xdp", "XdpProgram", Ready, "Ready", "", "passes"},
	}},
	// cilium/ebpf's test objects: the ones that hold programs, of the types
	// the other packages lack, and a big-endian one.
	"golang-github-cilium-ebpf-dev/btf_map_init-el.elf": {build: "", maps: "inner_map:array outer_map_init:arrayofmaps prog_array_init:programarray", programs: []wantProgram{
		{"tail_1", "socket_filter", "", NoKind, "", "", ""},
		{"tail_main", "socket_filter", "", NoKind, "", "", ""},
	}},
	"golang-github-cilium-ebpf-dev/freplace-el.elf": {build: "", maps: "", programs: []wantProgram{
		{"replacement", "ext", "", NoKind, "", "", ""},
		{"sched_process_exec", "raw_tracepoint", "", NoKind, "", "", ""},
	}},
	"golang-github-cilium-ebpf-dev/loader-clang-14-el.elf": {build: "", maps: "array_of_hash_map:arrayofmaps btf_outer_map:arrayofmaps btf_outer_map_anon:arrayofmaps btf_pin:hash hash_map:hash hash_map2:hash perf_event_array:perfeventarray", programs: []wantProgram{
		{"anon_const", "socket_filter", "", NoKind, "", "", ""},
		{"asm_relocation", "socket_filter", "", NoKind, "", "", ""},
		{"data_sections", "socket_filter", "", NoKind, "", "", ""},
		{"global_fn3", "unspec", "", NoKind, "", "", ""},
		{"no_relocation", "socket_filter", "", NoKind, "", "", ""},
		{"static_fn", "unspec", "", NoKind, "", "", ""},
		{"xdp_prog", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
	"golang-github-cilium-ebpf-dev/loader-clang-14-eb.elf": {build: "bpfleet: loader-clang-14-eb.elf is big-endian eBPF, but linux/amd64 runs little-endian eBPF: compile it with clang -target bpfel", maps: "", programs: []wantProgram{}},
	"golang-github-cilium-ebpf-dev/raw_tracepoint-el.elf": {build: "", maps: "", programs: []wantProgram{
		{"sched_process_exec", "raw_tracepoint", "", NoKind, "", "", ""},
	}},
	"golang-github-cilium-ebpf-dev/strings-el.elf": {build: "", maps: "", programs: []wantProgram{
		{"filter", "socket_filter", "", NoKind, "", "", ""},
	}},
	"golang-github-cilium-ebpf-dev/subprog_reloc-el.elf": {build: "", maps: "hash_map:hash", programs: []wantProgram{
		{"fp_relocation", "xdp", "XdpProgram", Ready, "Ready", "", "drops"},
	}},
}

// checkExpectedCoversList fails on expected results for objects the list
// no longer has.
func checkExpectedCoversList(t *testing.T, list []entry) {
	t.Helper()
	in := map[string]bool{}
	for _, e := range list {
		in[e.ID()] = true
	}
	for id := range expected {
		if !in[id] {
			t.Errorf("expected results for %s, which corpus.list does not name", id)
		}
	}
}

// compare fails if got is not e's expected result, printing got as the
// Go literal to put in expected if the change is meant.
func compare(t *testing.T, e entry, got observed) {
	t.Helper()
	w, ok := expected[e.ID()]
	if !ok || !matches(w, got) {
		t.Errorf("%s: results changed (or are new); if that is meant, put this in expected:\n%s", e.ID(), literal(e, got))
	}
}

func matches(w want, got observed) bool {
	if !contains(got.Build, w.build) || got.Maps != w.maps || len(got.Programs) != len(w.programs) {
		return false
	}
	for i, p := range got.Programs {
		wp := w.programs[i]
		if p.Name != wp.name || p.Type != wp.typ || p.Kind != wp.kind || p.Outcome != wp.outcome ||
			p.Reason != wp.reason || !contains(p.Message, wp.message) || p.Traffic != wp.traffic {
			return false
		}
	}
	return true
}

// contains is strings.Contains, except that an empty want matches only an
// empty got.
func contains(got, want string) bool {
	if want == "" {
		return got == ""
	}
	return strings.Contains(got, want)
}

// literal writes got as an entry of expected.
func literal(e entry, got observed) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\t%q: {build: %q, maps: %q, programs: []wantProgram{\n", e.ID(), got.Build, got.Maps)
	for _, p := range got.Programs {
		fmt.Fprintf(&b, "\t\t{%q, %q, %q, %s, %q, %q, %q},\n", p.Name, p.Type, p.Kind, p.Outcome, p.Reason, p.Message, p.Traffic)
	}
	b.WriteString("\t}},")
	return b.String()
}

// The tables of docs/compatibility.md: the objects, and each program's
// result.
const (
	objectHeader = "| package | object | programs (ELF section) | maps (type) | pinned by name | globals |\n| --- | --- | --- | --- | --- | --- |"
	resultHeader = "| package | object | program | type (label) | kind | result |\n| --- | --- | --- | --- | --- | --- |"
)

// objectRow is got's row of the objects table.
func objectRow(e entry, got observed) string {
	var progs []string
	for _, p := range got.Programs {
		progs = append(progs, fmt.Sprintf("`%s` (`%s`)", p.Name, p.Section))
	}
	maps := strings.ReplaceAll(got.Maps, " ", ", ")
	if got.Build != "" {
		maps = "(not built)"
	}
	return fmt.Sprintf("| %s %s | `%s` | %s | %s | %s | %s |", e.Package, e.Version, e.Object, strings.Join(progs, ", "), maps,
		strings.Join(got.PinnedByName, ", "), strings.Join(got.Globals, ", "))
}

// resultRows are got's rows of the results table.
func resultRows(e entry, got observed) []string {
	prefix := fmt.Sprintf("| %s %s | `%s` |", e.Package, e.Version, e.Object)
	if got.Build != "" {
		return []string{fmt.Sprintf("%s | | | build refused: %s |", prefix, got.Build)}
	}
	var rows []string
	for _, p := range got.Programs {
		rows = append(rows, fmt.Sprintf("%s `%s` | %s | %s | %s |", prefix, p.Name, p.Type, p.Kind, describe(p.result)))
	}
	return rows
}

// describe says a result in words, for the results table.
func describe(r result) string {
	s := r.Outcome
	if r.Reason != "" && r.Reason != r.Outcome {
		s += " (" + r.Reason + ")"
	}
	if r.Traffic != "" {
		s += ", pings " + r.Traffic
	}
	if r.Message != "" {
		s += ": " + strings.ReplaceAll(r.Message, "|", `\|`)
	}
	return s
}
