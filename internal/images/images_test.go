package images_test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/bpfleet/bpfleet/internal/images"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// The binaries are kept in the repository's cache between runs: a rerun
// only checks them against the go build cache.
const cacheDir = "../../.cache/build"

// TestProductImages builds the operator's and the agent's images for
// linux/amd64 and linux/arm64, pushes them to a registry, pulls them back
// and checks what a user would.
func TestProductImages(t *testing.T) {
	srv := httptest.NewServer(ocitest.Handler(nil))
	t.Cleanup(srv.Close)
	opts := images.Options{Dir: "../..", CacheDir: cacheDir, Version: "test"}
	for _, tc := range []struct {
		img  images.Image
		user string
	}{
		{images.Operator, "65532:65532"},
		{images.Agent, "0:0"},
	} {
		t.Run(tc.img.Name, func(t *testing.T) {
			ref := srv.Listener.Addr().String() + "/bpfleet/" + tc.img.Name + ":test"
			idx := buildAndPull(t, opts, tc.img, ref)
			want := []string{"linux/amd64", "linux/arm64/v8"}
			if got := platforms(t, idx); !slices.Equal(got, want) {
				t.Fatalf("platforms %v, want %v", got, want)
			}
			for _, desc := range manifests(t, idx) {
				t.Run(desc.Platform.String(), func(t *testing.T) {
					img, err := idx.Image(desc.Digest)
					if err != nil {
						t.Fatal(err)
					}
					checkConfig(t, img, tc.img, tc.user, *desc.Platform)
					checkFiles(t, img, tc.img.Name, *desc.Platform)
				})
			}
		})
	}
}

// buildAndPull builds img, pushes it to ref and returns the index pulled
// back by the digest Push returned.
func buildAndPull(t *testing.T, opts images.Options, img images.Image, ref string) v1.ImageIndex {
	t.Helper()
	idx, err := images.Build(t.Context(), opts, img)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := images.Push(t.Context(), idx, ref)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.NewDigest(strings.TrimSuffix(ref, ":test")+"@"+digest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pull %s: %v", r, err)
	}
	return pulled
}

func manifests(t *testing.T, idx v1.ImageIndex) []v1.Descriptor {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", m.MediaType, types.OCIImageIndex)
	}
	return m.Manifests
}

func platforms(t *testing.T, idx v1.ImageIndex) []string {
	t.Helper()
	var ps []string
	for _, d := range manifests(t, idx) {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		ps = append(ps, d.Platform.String())
	}
	return ps
}

// checkConfig checks the platform, entrypoint, user and labels of img's
// config.
func checkConfig(t *testing.T, img v1.Image, want images.Image, user string, p v1.Platform) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := (v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}); !got.Equals(p) {
		t.Errorf("config platform %s, index says %s", got.String(), p.String())
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/" + want.Name}) || cf.Config.User != user {
		t.Errorf("entrypoint %q user %q, want [/%s] %q", cf.Config.Entrypoint, cf.Config.User, want.Name, user)
	}
	labels := cf.Config.Labels
	if rev, head := labels["org.opencontainers.image.revision"], gitHead(t); strings.TrimSuffix(rev, "-dirty") != head {
		t.Errorf("revision label %q, want %s[-dirty]", rev, head)
	}
	if src := labels["org.opencontainers.image.source"]; src != "https://github.com/bpfleet/bpfleet" {
		t.Errorf("source label %q", src)
	}
	if labels["org.opencontainers.image.version"] != "test" || labels["org.opencontainers.image.title"] != want.Name {
		t.Errorf("labels %v: want version test, title %s", labels, want.Name)
	}
	if cf.Created.IsZero() {
		t.Error("config has no Created time")
	}
}

func gitHead(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// checkFiles checks img's one layer: the users, the CA bundle and the
// binary, static and for p's machine; the operator for this machine runs.
func checkFiles(t *testing.T, img v1.Image, bin string, p v1.Platform) {
	t.Helper()
	files := layerFiles(t, img)
	if !strings.Contains(files["etc/passwd"], "nonroot:x:65532:65532:") || !strings.Contains(files["etc/group"], "nonroot:x:65532:") {
		t.Errorf("/etc/passwd or /etc/group has no nonroot (65532):\n%s%s", files["etc/passwd"], files["etc/group"])
	}
	if !strings.Contains(files["etc/ssl/certs/ca-certificates.crt"], "BEGIN CERTIFICATE") {
		t.Error("no CA bundle at /etc/ssl/certs/ca-certificates.crt")
	}
	b, ok := files[bin]
	if !ok {
		t.Fatalf("no /%s in the layer", bin)
	}
	checkStatic(t, []byte(b), p)
	if bin == images.Operator.Name && p.Architecture == runtime.GOARCH {
		checkRuns(t, []byte(b))
	}
}

// layerFiles returns the content of the regular files of img's one layer,
// by path.
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v: want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = string(b)
		}
	}
}

// machines are the ELF machines of the GOARCHes built.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkStatic checks b is an ELF executable for p's machine that needs
// no dynamic loader and no shared library.
func checkStatic(t *testing.T, b []byte, p v1.Platform) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("binary: %v", err)
	}
	if f.Machine != machines[p.Architecture] {
		t.Errorf("machine %s, want %s", f.Machine, machines[p.Architecture])
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("binary has a PT_INTERP header: dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("binary needs %v (%v), want no shared library", libs, err)
	}
}

// checkRuns runs the operator's binary with -h: it prints its usage.
func checkRuns(t *testing.T, b []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), images.Operator.Name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-metrics-bind-address") {
		t.Errorf("%s -h: %v, want its usage:\n%s", path, err, out)
	}
}

// TestBuildIsReproducible builds an image twice: the same digest.
func TestBuildIsReproducible(t *testing.T) {
	opts := images.Options{Dir: "../..", CacheDir: cacheDir, Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}}
	var digests []v1.Hash
	for range 2 {
		idx, err := images.Build(t.Context(), opts, images.Agent)
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of one tree: %s and %s", digests[0], digests[1])
	}
}

func TestParsePlatforms(t *testing.T) {
	ps, err := images.ParsePlatforms("linux/amd64, linux/arm64,linux/arm/v7")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if want := []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "linux", "windows/amd64", "linux/amd64,"} {
		if _, err := images.ParsePlatforms(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
