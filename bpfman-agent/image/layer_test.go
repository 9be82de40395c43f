package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"testing"
)

func testObject(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/counter.o")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarLayer returns a tar of the test object under each of names.
func tarLayer(t testing.TB, names ...string) []byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range names {
		files[name] = testObject(t)
	}
	return tarFiles(t, names, files)
}

func tarFiles(t testing.TB, names []string, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		data := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractObject(t *testing.T) {
	obj := testObject(t)
	tests := []struct {
		name   string
		layer  []byte
		reason string
	}{
		{"tar.gz", gz(t, tarLayer(t, "counter.o")), ""},
		{"tar", tarLayer(t, "counter.o"), ""},
		{"nested", tarLayer(t, "usr/lib/bpf/counter.o"), ""},
		{"bare", obj, ""},
		{"whiteout ignored", tarLayer(t, ".wh.old.o", "counter.o"), ""},
		{"empty", nil, ReasonInvalid},
		{"traversal", tarLayer(t, "x/../../counter.o"), ReasonInvalid},
		{"two", gz(t, tarLayer(t, "a.o", "b.o")), ReasonInvalid},
		{"truncated tar", tarLayer(t, "counter.o")[:700], ReasonInvalid},
		{"object too large", gz(t, tarFiles(t, []string{"big.o"}, map[string][]byte{"big.o": make([]byte, 2*len(obj))})), ReasonTooLarge},
		{"gzip bomb", gz(t, tarFiles(t, []string{"zeros", "counter.o"}, map[string][]byte{"zeros": make([]byte, 2*tarOverhead), "counter.o": obj})), ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractObject(tt.layer, int64(len(obj)))
			if ReasonOf(err) != tt.reason {
				t.Fatalf("error %v, want reason %q", err, tt.reason)
			}
			if tt.reason == "" && !bytes.Equal(got, obj) {
				t.Fatal("extracted object differs")
			}
		})
	}
}

// FuzzExtractObject feeds the layer extractor arbitrary layers: it must
// return an object within the limit or an *Error, never panic or run away.
func FuzzExtractObject(f *testing.F) {
	f.Add(gz(f, tarLayer(f, "counter.o")))
	f.Add(tarLayer(f, "../counter.o", "b.o"))
	f.Add(testObject(f)[:128])
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, layer []byte) {
		obj, err := extractObject(layer, limit)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(obj) > limit {
			t.Fatalf("object of %d bytes, over the limit", len(obj))
		}
	})
}
