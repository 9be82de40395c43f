package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// build → push to a registry with basic auth (credentials from the docker
// config file) → inspect, for a two-platform image; the node agent's image
// store then pulls the entry for its own platform.
func TestBuildPushInspectMultiPlatform(t *testing.T) {
	e := newEnv(t)
	le := e.object("counter.o", bpf.TracepointCounter)
	be := e.object("counter-s390x.o", bpf.TracepointCounterBigEndian)
	ref := e.host + "/team/counter:v1"
	built := e.must("image", "build", "-f", le, "-f", be, "--platform", "linux/s390x", "-t", ref)
	pushed := e.must("image", "push", ref)
	if pushed != built {
		t.Fatalf("push printed %s, build %s", pushed, built)
	}

	in := decodeInspection(t, e.must("image", "inspect", "-o", "json", ref))
	if in.MediaType != "application/vnd.oci.image.index.v1+json" || len(in.Images) != 2 {
		t.Fatalf("inspect = %+v, want an index of 2 images", in)
	}
	platforms := map[string]bool{}
	for _, img := range in.Images {
		platforms[img.Platform] = true
		if img.Programs["count_openat"] != "tracepoint" || img.Maps["counts"] != "hash" || img.LayerSize == 0 {
			t.Errorf("%s: programs %v, maps %v, layer %d bytes", img.Platform, img.Programs, img.Maps, img.LayerSize)
		}
	}
	if !platforms["linux/amd64"] || !platforms["linux/s390x"] {
		t.Errorf("platforms = %v", platforms)
	}
	table := e.must("image", "inspect", ref)
	for _, want := range []string{"linux/s390x", "count_openat", "tracepoint", "Signatures: 0"} {
		if !strings.Contains(table, want) {
			t.Errorf("inspect table lacks %q:\n%s", want, table)
		}
	}

	store, err := image.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := dockerConfigCredentials(e.host)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := store.Fetch(context.Background(), pushed, creds, image.PullAlways)
	if err != nil {
		t.Fatal(err)
	}
	if string(obj.ELF) != string(bpf.TracepointCounter) {
		t.Error("the agent did not pick the little-endian object for this node")
	}
}

// --oci-layout writes the image to a directory instead of a registry.
func TestPushToOCILayout(t *testing.T) {
	e := newEnv(t)
	ref := "registry.example.com/team/counter:v2"
	e.must("image", "build", "-f", e.object("counter.o", bpf.TracepointCounter), "-t", ref)
	dir := filepath.Join(e.dir, "layout")
	e.must("image", "push", "--oci-layout", dir, ref)
	in := decodeInspection(t, e.must("image", "inspect", "--oci-layout", dir, "-o", "json", ref))
	if len(in.Images) != 1 || in.Images[0].Programs["count_openat"] != "tracepoint" {
		t.Fatalf("inspect of the layout = %+v", in)
	}
}

// Every refusal has a message and an exit code a script can test.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	le := e.object("counter.o", bpf.TracepointCounter)
	notELF := e.object("notes.o", []byte("not an ELF file"))
	ref := e.host + "/team/refused:v1"
	noLayout := filepath.Join(t.TempDir(), "absent")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"wrong byte order", []string{"image", "build", "-f", le, "--platform", "linux/s390x", "-t", ref}, exitFailure, "clang -target bpfeb"},
		{"two objects, one platform", []string{"image", "build", "-f", le, "-f", le, "-t", ref}, exitFailure, "one object per platform"},
		{"platform before -f", []string{"image", "build", "--platform", "linux/arm64", "-f", le, "-t", ref}, exitUsage, "must follow the -f"},
		{"not an ELF", []string{"image", "build", "-f", notELF, "-t", ref}, exitFailure, "notes.o"},
		{"no tag", []string{"image", "build", "-f", le}, exitUsage, "want -t REF"},
		{"not built", []string{"image", "push", ref}, exitNotFound, "build it first"},
		{"not in the registry", []string{"image", "inspect", e.host + "/team/absent:v1"}, exitNotFound, "not found"},
		{"no such layout", []string{"image", "inspect", "--oci-layout", noLayout, ref}, exitNotFound, "no OCI image layout"},
		{"unknown command", []string{"image", "frobnicate"}, exitUsage, "unknown command"},
		{"help is no failure", []string{"image", "push", "-h"}, 0, "bpfleet image push REF [flags]"},
		{"an unknown flag", []string{"image", "push", "--frobnicate", ref}, exitUsage, "unknown flag: --frobnicate"},
		{"no key", []string{"image", "verify", ref}, exitUsage, `required flag(s) "key" not set`},
		{"two references", []string{"image", "inspect", ref, ref}, exitUsage, "want one image reference"},
		{"a digest in the store", []string{"image", "build", "-f", le, "-t", e.host + "/team/x@sha256:" + strings.Repeat("0", 64)}, exitUsage, "by tag, not digest"},
		{"an output format", []string{"image", "inspect", "-o", "xml", ref}, exitUsage, "want table, json, yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := e.bpfleet(tc.args...)
			if code != tc.code || !strings.Contains(errs+out, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tc.code, tc.msg)
			}
		})
	}

	if _, err := os.Stat(noLayout); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("inspecting a layout that is not there made %s (%v)", noLayout, err)
	}

	e.must("image", "build", "-f", le, "-t", ref)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
	if code, _, errs := e.bpfleet("image", "push", ref); code != exitUnauthorized {
		t.Errorf("push without credentials: exit %d, %s; want %d", code, errs, exitUnauthorized)
	}
	if code, _, errs := e.withStdin("wrong\n").bpfleet("image", "push", "--username", "team", "--password-stdin", ref); code != exitUnauthorized {
		t.Errorf("push with a wrong password: exit %d, %s; want %d", code, errs, exitUnauthorized)
	}
	e.withStdin("s3cret\n").must("image", "push", "--username", "team", "--password-stdin", ref)
}
