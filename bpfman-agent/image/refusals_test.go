package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// TestFetchLayerForms checks the layer forms a bytecode image may use.
func TestFetchLayerForms(t *testing.T) {
	host, _ := startRegistry(t, nil)
	object := readTestdata(t, "counter.o")
	forms := map[string][]byte{
		"tar+gzip":        gzipOf(t, tarOf(t, entry{name: "counter.o", data: object})),
		"tar":             tarOf(t, entry{name: "counter.o", data: object}),
		"bare ELF":        object,
		"gzip'd ELF":      gzipOf(t, object),
		"tar with extras": tarOf(t, entry{name: "./", typ: tar.TypeDir}, entry{name: "./counter.o", data: object}, entry{name: "README", data: []byte("hi")}),
		"an .elf object":  tarOf(t, entry{name: "loader-el.elf", data: object}),
		"a .bpf object":   tarOf(t, entry{name: "xdp_filter.bpf", data: object}),
	}
	for name, layer := range forms {
		t.Run(name, func(t *testing.T) {
			pinned, _ := pushRaw(t, host+"/forms/x:v1", rawImage{layers: [][]byte{layer}, labels: counterLabels})
			store, _ := newStore(t)
			obj, err := store.Fetch(context.Background(), pinned, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(obj.ELF, object) {
				t.Fatal("ELF differs")
			}
		})
	}
}

func TestFetchRefusals(t *testing.T) {
	host, _ := startRegistry(t, nil)
	object := readTestdata(t, "counter.o")
	tgz := func(entries ...entry) [][]byte { return [][]byte{gzipOf(t, tarOf(t, entries...))} }
	bomb := gzipOf(t, tarOf(t, entry{name: "zeros", data: make([]byte, 8<<20)}, entry{name: "counter.o", data: object}))
	tests := []struct {
		name   string
		img    rawImage
		opts   []image.Option
		reason string
		msg    string
	}{
		{"not ELF", rawImage{layers: tgz(entry{name: "counter.o", data: []byte("#!/bin/sh\necho hi\n")})}, nil, image.ReasonNotBPF, "not an ELF file"},
		{"x86-64 object", rawImage{layers: tgz(entry{name: "counter.o", data: readTestdata(t, "notbpf.o")})}, nil, image.ReasonNotBPF, "not eBPF"},
		{"big-endian object", rawImage{layers: tgz(entry{name: "counter.o", data: readTestdata(t, "counter_bpfeb.o")})}, nil, image.ReasonWrongEndianness, "big-endian"},
		{"path traversal", rawImage{layers: tgz(entry{name: "../counter.o", data: object})}, nil, image.ReasonInvalid, "escapes the layer root"},
		{"traversal in other file", rawImage{layers: tgz(entry{name: "counter.o", data: object}, entry{name: "a/../../etc/passwd", data: []byte("x")})}, nil, image.ReasonInvalid, "escapes"},
		{"two objects", rawImage{layers: tgz(entry{name: "counter.o", data: object}, entry{name: "other.o", data: object})}, nil, image.ReasonInvalid, "more than one object file"},
		{"no object", rawImage{layers: tgz(entry{name: "counter.c", data: []byte("int x;")})}, nil, image.ReasonInvalid, "no object file (.o, .bpf, .elf)"},
		{"symlink object", rawImage{layers: tgz(entry{name: "evil.o", typ: tar.TypeSymlink})}, nil, image.ReasonInvalid, "not a regular file"},
		{"garbage layer", rawImage{layers: [][]byte{bytes.Repeat([]byte("garbage!"), 200)}}, nil, image.ReasonInvalid, "neither a tar"},
		{"bad gzip", rawImage{layers: [][]byte{{0x1f, 0x8b, 0, 0}}}, nil, image.ReasonInvalid, "gzip"},
		{"two layers", rawImage{layers: append(tgz(entry{name: "counter.o", data: object}), []byte("x"))}, nil, image.ReasonInvalid, "2 layers"},
		{"no layer", rawImage{}, nil, image.ReasonInvalid, "0 layers"},
		{"oversize layer", rawImage{layers: tgz(entry{name: "counter.o", data: object})}, []image.Option{image.WithMaxLayerSize(100)}, image.ReasonTooLarge, "limit of 100"},
		{"oversize object", rawImage{layers: tgz(entry{name: "counter.o", data: object})}, []image.Option{image.WithMaxObjectSize(1000)}, image.ReasonTooLarge, "larger than 1000"},
		{"oversize manifest", rawImage{layers: tgz(entry{name: "counter.o", data: object})}, []image.Option{image.WithMaxManifestSize(100)}, image.ReasonTooLarge, "limit of 100"},
		{"gzip bomb", rawImage{layers: [][]byte{bomb}}, []image.Option{image.WithMaxObjectSize(64 << 10)}, image.ReasonTooLarge, "decompresses to more than"},
		{"program not in object", rawImage{labels: map[string]string{oci.LabelPrograms: `{"count_openat":"tracepoint","missing":"xdp"}`}}, nil, image.ReasonInvalid, "names missing, which the object does not define (it defines: count_openat)"},
		{"unlabeled, not eBPF", rawImage{labels: map[string]string{}, layers: tgz(entry{name: "counter.o", data: readTestdata(t, "notbpf.o")})}, nil, image.ReasonNotBPF, "not eBPF"},
		{"unlabeled, big-endian", rawImage{labels: map[string]string{}, layers: tgz(entry{name: "counter.o", data: readTestdata(t, "counter_bpfeb.o")})}, nil, image.ReasonWrongEndianness, "big-endian"},
		{"unlabeled, oversize object", rawImage{labels: map[string]string{}}, []image.Option{image.WithMaxObjectSize(1000)}, image.ReasonTooLarge, "larger than 1000"},
		{"bad labels", rawImage{labels: map[string]string{oci.LabelPrograms: `["count_openat"]`}}, nil, image.ReasonInvalid, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.img
			if img.layers == nil && img.labels != nil {
				img.layers = tgz(entry{name: "counter.o", data: object})
			}
			if img.labels == nil {
				img.labels = counterLabels
			}
			pinned, _ := pushRaw(t, host+"/refused/x:v1", img)
			store, _ := newStore(t, tt.opts...)
			_, err := store.Fetch(context.Background(), pinned, nil, "")
			wantReason(t, err, tt.reason)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

// TestFetchUnlabeled fetches an image whose config names no program
// (built for an older bpfman, or by hand): the operator takes it, reading
// its programs from the object, so the node takes it too, with every
// check of the object but the labels'.
func TestFetchUnlabeled(t *testing.T) {
	host, _ := startRegistry(t, nil)
	object := readTestdata(t, "counter.o")
	for name, labels := range map[string]map[string]string{"no labels": nil, "other labels only": {"org.opencontainers.image.title": "counter"}} {
		t.Run(name, func(t *testing.T) {
			pinned, _ := pushRaw(t, host+"/unlabeled/x:v1", rawImage{layers: [][]byte{object}, labels: labels})
			store, _ := newStore(t)
			obj, err := store.Fetch(context.Background(), pinned, nil, "")
			if err != nil {
				t.Fatalf("unlabeled image refused: %v", err)
			}
			if !bytes.Equal(obj.ELF, object) || len(obj.Programs) != 0 || len(obj.Maps) != 0 {
				t.Fatalf("object of %d bytes, programs %v, maps %v; want the ELF, no labelled programs or maps", len(obj.ELF), obj.Programs, obj.Maps)
			}
		})
	}
}

// TestFetchDigestMismatch serves a layer whose bytes are not those its
// digest names (same length, one byte changed), as a compromised registry
// or proxy would.
func TestFetchDigestMismatch(t *testing.T) {
	layer := gzipOf(t, tarOf(t, entry{name: "counter.o", data: readTestdata(t, "counter.o")}))
	tampered := bytes.Clone(layer)
	tampered[len(tampered)/2] ^= 0xff
	tamperPath := "/blobs/" + digest.FromBytes(layer).String()
	registry := ocitest.Handler(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, tamperPath) {
			w.Write(tampered)
			return
		}
		registry.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	pinned, _ := pushRaw(t, host+"/bpf/counter:v1", rawImage{layers: [][]byte{layer}, labels: counterLabels})

	store, dir := newStore(t)
	_, err := store.Fetch(context.Background(), pinned, nil, "")
	wantReason(t, err, image.ReasonInvalid)
	if !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("tampered layer: %v, want a digest mismatch", err)
	}
	// oras-go leaves a failed download in ingest/: on a full disk, it
	// would hold the space until the agent restarts.
	if left, _ := os.ReadDir(filepath.Join(dir, "ingest")); len(left) > 0 {
		t.Errorf("the failed download is left in ingest/: %v", left)
	}
}
