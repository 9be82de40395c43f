package image_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/oci"
)

func TestFetchThenCache(t *testing.T) {
	ctx := context.Background()
	host, stop := startRegistry(t, nil)
	b := counterBytecode(t)
	ref := host + "/bpf/counter:v1"
	dgst, err := oci.Push(ctx, ref, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := oci.Resolve(ctx, ref, nil)
	if err != nil || resolved != dgst {
		t.Fatalf("Resolve = %s, %v; pushed %s", resolved, err, dgst)
	}
	store, dir := newStore(t)

	obj, err := store.Fetch(ctx, oci.Pinned(ref, resolved), nil, image.PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	checkCounter(t, obj, b, dgst, false)

	stop()
	otherName := host + "/mirror/elsewhere@" + dgst
	obj, err = store.Fetch(ctx, otherName, nil, "")
	if err != nil {
		t.Fatalf("second fetch with the registry stopped: %v", err)
	}
	checkCounter(t, obj, b, dgst, true)

	restarted, err := image.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	obj, err = restarted.Fetch(ctx, otherName, nil, image.PullNever)
	if err != nil {
		t.Fatalf("fetch from a reopened store: %v", err)
	}
	checkCounter(t, obj, b, dgst, true)
}

func checkCounter(t *testing.T, obj *image.Object, b oci.Bytecode, dgst string, fromCache bool) {
	t.Helper()
	if !bytes.Equal(obj.ELF, b.Object) {
		t.Error("ELF differs from the object pushed")
	}
	if obj.Digest != dgst || obj.FromCache != fromCache {
		t.Errorf("Digest %s FromCache %v, want %s %v", obj.Digest, obj.FromCache, dgst, fromCache)
	}
	if !maps.Equal(obj.Programs, b.Programs) || !maps.Equal(obj.Maps, b.Maps) {
		t.Errorf("Programs %v Maps %v, want %v %v", obj.Programs, obj.Maps, b.Programs, b.Maps)
	}
}

func TestFetchPolicies(t *testing.T) {
	ctx := context.Background()
	host, stop := startRegistry(t, nil)
	pinned := push(t, host+"/bpf/counter:v1", counterBytecode(t), nil)
	store, _ := newStore(t)

	_, err := store.Fetch(ctx, pinned, nil, image.PullNever)
	wantReason(t, err, image.ReasonPullFailed)
	if !errors.Is(err, image.ErrNotCached) {
		t.Fatalf("Never on an empty cache: %v, want ErrNotCached", err)
	}
	for range 2 {
		obj, err := store.Fetch(ctx, pinned, nil, image.PullAlways)
		if err != nil || obj.FromCache {
			t.Fatalf("Always: %v, FromCache %v", err, obj != nil && obj.FromCache)
		}
	}
	stop()
	_, err = store.Fetch(ctx, pinned, nil, image.PullAlways)
	wantReason(t, err, image.ReasonPullFailed)
	if obj, err := store.Fetch(ctx, pinned, nil, image.PullNever); err != nil || !obj.FromCache {
		t.Fatalf("Never on a cached image: %v", err)
	}
}

func TestFetchNeedsDigestAndPolicy(t *testing.T) {
	store, _ := newStore(t)
	ctx := context.Background()
	_, err := store.Fetch(ctx, "127.0.0.1:1/bpf/counter:v1", nil, "")
	wantReason(t, err, image.ReasonInvalid)
	_, err = store.Fetch(ctx, "127.0.0.1:1/bpf/counter@sha256:"+strings.Repeat("0", 64), nil, "Sometimes")
	wantReason(t, err, image.ReasonInvalid)
}

func TestFetchNotFound(t *testing.T) {
	host, _ := startRegistry(t, nil)
	store, _ := newStore(t)
	ref := host + "/bpf/counter@sha256:" + strings.Repeat("0", 64)
	_, err := store.Fetch(context.Background(), ref, nil, "")
	wantReason(t, err, image.ReasonPullFailed)
	if !errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), ref) {
		t.Fatalf("error %q: want ErrNotFound naming %s", err, ref)
	}
}

func TestFetchBasicAuth(t *testing.T) {
	ctx := context.Background()
	creds := &oci.Credentials{Username: "platform", Password: "s3cret"}
	host, _ := startRegistry(t, creds)
	pinned := push(t, host+"/bpf/counter:v1", counterBytecode(t), creds)
	store, _ := newStore(t)

	for name, c := range map[string]*oci.Credentials{"no": nil, "wrong": {Username: "platform", Password: "x"}} {
		_, err := store.Fetch(ctx, pinned, c, "")
		wantReason(t, err, image.ReasonPullFailed)
		if !errors.Is(err, oci.ErrUnauthorized) {
			t.Errorf("%s credentials: %v, want ErrUnauthorized", name, err)
		}
	}

	secret := []byte(`{"auths":{"` + host + `":{"auth":"cGxhdGZvcm06czNjcmV0"}}}`) // platform:s3cret
	fromSecret, err := oci.CredentialsFromDockerConfig(secret, host)
	if err != nil || fromSecret == nil {
		t.Fatalf("CredentialsFromDockerConfig = %v, %v", fromSecret, err)
	}
	if _, err := store.Fetch(ctx, pinned, fromSecret, ""); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptCacheIsPulledAgain damages a cached layer on disk: the store
// that fetched it serves the object it verified from memory, and the next
// read of the layout (here a store opened again, as by a restarted agent)
// notices and pulls the image again.
func TestCorruptCacheIsPulledAgain(t *testing.T) {
	ctx := context.Background()
	host, stop := startRegistry(t, nil)
	object := readTestdata(t, "counter.o")
	pinned, layers := pushRaw(t, host+"/bpf/counter:v1", rawImage{
		layers: [][]byte{gzipOf(t, tarOf(t, entry{name: "counter.o", data: object}))},
		labels: counterLabels,
	})
	store, dir := newStore(t)
	if _, err := store.Fetch(ctx, pinned, nil, ""); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "blobs", "sha256", layers[0].Digest.Encoded())
	evil := gzipOf(t, tarOf(t, entry{name: "evil.o", data: object}))
	overwrite(t, blob, evil)
	obj, err := store.Fetch(ctx, pinned, nil, "")
	if err != nil || !bytes.Equal(obj.ELF, object) {
		t.Fatalf("fetch from memory over a corrupt cache: %v", err)
	}
	if store, err = image.NewStore(dir); err != nil {
		t.Fatal(err)
	}
	obj, err = store.Fetch(ctx, pinned, nil, "")
	if err != nil || obj.FromCache || !bytes.Equal(obj.ELF, object) {
		t.Fatalf("fetch over a corrupt cache: %v (FromCache %v)", err, obj != nil && obj.FromCache)
	}

	overwrite(t, blob, evil)
	stop()
	if store, err = image.NewStore(dir); err != nil {
		t.Fatal(err)
	}
	_, err = store.Fetch(ctx, pinned, nil, "")
	wantReason(t, err, image.ReasonPullFailed)
}

// overwrite replaces a (read-only) cached blob.
func overwrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
