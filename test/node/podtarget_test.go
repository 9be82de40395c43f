package node

import (
	"archive/tar"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bpfleet/bpfleet/internal/images"
)

// podTargetSource is the program the pods of the pod-target tests run:
// a UDP echo that calls a uprobe target (see the file).
//
//go:embed testdata/podtarget.c
var podTargetSource []byte

const (
	// podTargetFunction is the uprobe target in podtarget.
	podTargetFunction = "bpfleet_target"
	// podTargetPort is the UDP port podtarget serves.
	podTargetPort = 7777
)

// podTarget is podtarget built for these tests: the binary on the host
// and the image holding the same file (/podtarget) in the node's
// registry.
type podTarget struct {
	Path, Image string
}

// buildPodTarget compiles podtarget (static, with its symbols: a uprobe
// target, the same file in a pod and on the host), and pushes it as an
// image of one layer, as ko or crane append would, to the node's
// registry.
func buildPodTarget(t *testing.T) podTarget {
	t.Helper()
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "podtarget.c"), filepath.Join(dir, "podtarget")
	if err := os.WriteFile(src, podTargetSource, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compile podtarget (gcc and a static libc, libc6-dev): %v\n%s", err, out)
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := pushPodTarget(context.Background(), content)
	if err != nil {
		t.Fatal(err)
	}
	return podTarget{Path: bin, Image: ref}
}

// pushPodTarget pushes an image of bin at /podtarget, its entrypoint
// (podtarget serve, as nonroot), and returns its reference on the
// node's registry, by digest.
func pushPodTarget(ctx context.Context, bin []byte) (string, error) {
	layer, err := fileLayer("podtarget", bin)
	if err != nil {
		return "", err
	}
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{
		OS: p.OS, Architecture: p.Architecture, RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Entrypoint: []string{"/podtarget"}, Cmd: []string{"serve"}, User: "65532:65532"},
	})
	if err != nil {
		return "", err
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return "", err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	digest, err := images.Push(ctx, idx, install.PushRegistry+"/bpfleet/podtarget:dev")
	if err != nil {
		return "", err
	}
	return install.Registry + "/bpfleet/podtarget@" + digest, nil
}

// fileLayer is a layer holding one executable file at /name.
func fileLayer(name string, content []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil },
		tarball.WithMediaType(types.OCILayer))
}

// podTargetPod is pod ns/name, labelled, running image (podtarget) as its
// container app.
func podTargetPod(ns, name, image string, labels map[string]string) *corev1.Pod {
	no := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: &no,
			Containers:                   []corev1.Container{{Name: "app", Image: image}},
		},
	}
}

// poke asks the podtarget at ip to call its function n times and to
// answer with n datagrams, and fails unless all n come back.
func poke(t *testing.T, ip string, n int) {
	t.Helper()
	if got, err := pokeOnce(ip, n); err != nil || got != n {
		t.Fatalf("podtarget at %s answered %d of %d datagrams: %v", ip, got, n, err)
	}
}

// pokeOnce sends n to the podtarget at ip, and counts its answers within
// two seconds.
func pokeOnce(ip string, n int) (int, error) {
	c, err := net.Dial("udp", net.JoinHostPort(ip, strconv.Itoa(podTargetPort)))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(strconv.Itoa(n))); err != nil {
		return 0, err
	}
	if err := c.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return 0, err
	}
	buf := make([]byte, 16)
	got := 0
	for got < n {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got, nil
			}
			return got, err
		}
		got++
	}
	return got, nil
}

// waitServing waits until the podtarget at ip answers (a pod Running
// may not listen yet), with one call and one datagram.
func waitServing(t *testing.T, ip string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := pokeOnce(ip, 1)
		if got == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("podtarget at %s never answered: %v", ip, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
