package corpus

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// observed is what happened to one object.
type observed struct {
	Build    string // the refusal of `bpfleet image build`; "" if it built
	Maps     string // as inspect shows them: name:type, sorted
	Programs []programResult
	// PinnedByName and Globals are what the ELF declares, for the
	// documentation: maps declared LIBBPF_PIN_BY_NAME, and the variables
	// of its data sections.
	PinnedByName, Globals []string
}

// programResult is one program's label type and result.
type programResult struct {
	Name, Type string
	Section    string // its ELF section, for the documentation
	result
}

// TestCorpus packages every object of the corpus, inspects it, applies
// each of its programs as its kind and compares the results with
// expected (results_test.go). Run with -v for the table of results that
// docs/compatibility.md shows.
func TestCorpus(t *testing.T) {
	testkernel.Require(t)
	fillCache(t)
	list := readList(t)
	checkExpectedCoversList(t, list)
	s := startStack(t)
	c := buildCLI(t)
	iface, ns, addr, _ := testkernel.VethPair(t)
	h := hooks{iface: iface, ns: ns, addr: addr}
	var objects, results []string
	n := 0
	for _, e := range list {
		t.Run(e.ID(), func(t *testing.T) {
			got := packageAndRun(t, c, s.Registry, h, e, &n)
			compare(t, e, got)
			objects = append(objects, objectRow(e, got))
			results = append(results, resultRows(e, got)...)
		})
	}
	t.Logf("objects:\n%s\n%s\n\nresults:\n%s\n%s", objectHeader, strings.Join(objects, "\n"),
		resultHeader, strings.Join(results, "\n"))
}

// packageAndRun packages e and runs each of its programs; n numbers the
// programs of the whole corpus, for their resource names.
func packageAndRun(t *testing.T, c cli, registry string, h hooks, e entry, n *int) observed {
	ref := fmt.Sprintf("%s/corpus/%s/%s:%s", registry, e.Package, strings.ToLower(e.Object), e.Version)
	img, err := c.packageImage(e, ref)
	if err != nil {
		return observed{Build: err.Error()}
	}
	spec, err := ebpf.LoadCollectionSpec(e.Path())
	if err != nil {
		t.Fatalf("the image built, but cilium/ebpf cannot read %s: %v", e.Path(), err)
	}
	got := observed{Maps: img.mapList(), Globals: slices.Sorted(maps.Keys(spec.Variables))}
	for _, name := range slices.Sorted(maps.Keys(spec.Maps)) {
		if spec.Maps[name].Pinning == ebpf.PinByName {
			got.PinnedByName = append(got.PinnedByName, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(img.Programs)) {
		typ, prog := img.Programs[name], spec.Programs[name]
		if prog == nil {
			t.Fatalf("the image names program %s, which %s lacks", name, e.Object)
		}
		*n++
		common := bpfleetv1.ProgramCommon{ProgramSource: bpfleetv1.ProgramSource{
			ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}}}, ProgramName: name}
		r := result{Outcome: NoKind}
		if p := h.resource(typ, prog, common); p != nil {
			p.SetName(resourceName(*n, name))
			r = h.run(t, startStack(t).Client, p)
			r.Message = strings.ReplaceAll(r.Message, registry, "REGISTRY")
		}
		got.Programs = append(got.Programs, programResult{Name: name, Type: typ, Section: prog.SectionName, result: r})
	}
	return got
}
