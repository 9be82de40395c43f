package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"runtime"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// Bytecode is the content of a bpfman-format bytecode image: one object file
// and the labels naming its programs and maps.
type Bytecode struct {
	// FileName is the object's name at the layer's root, e.g. "prog.o".
	FileName string
	// Object is the ELF object. Push does not check it: tests push bad ones.
	Object []byte
	// Programs maps program (function) name to program type.
	Programs map[string]string
	// Maps maps map name to map type.
	Maps map[string]string
}

// Push builds a bpfman-format image of img (OCI media types, one tar+gzip
// layer holding the object at "/<FileName>", labels in the config) and
// pushes it to ref, a tag or digest reference. The image is reproducible:
// the same Bytecode always has the same digest. It returns that digest.
func Push(ctx context.Context, ref string, img Bytecode, creds *Credentials) (string, error) {
	repo, err := NewRepository(ref, creds)
	if err != nil {
		return "", err
	}
	manifest, blobs, err := build(img)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	if err := pushAll(ctx, repo, manifest, blobs); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, RemoteError(err))
	}
	return manifest.Digest.String(), nil
}

// blob is a descriptor and the content it describes.
type blob struct {
	ocispec.Descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) blob {
	return blob{Descriptor: content.NewDescriptorFromBytes(mediaType, data), data: data}
}

func pushAll(ctx context.Context, repo *remote.Repository, manifest blob, blobs []blob) error {
	for _, b := range blobs {
		if err := repo.Push(ctx, b.Descriptor, bytes.NewReader(b.data)); err != nil {
			return err
		}
	}
	tag := repo.Reference.Reference
	if tag == "" {
		tag = manifest.Digest.String()
	}
	return repo.PushReference(ctx, manifest.Descriptor, bytes.NewReader(manifest.data), tag)
}

// build returns the manifest of img and the blobs (config, layer) it names.
func build(img Bytecode) (manifest blob, blobs []blob, err error) {
	tarball, err := layerTar(img)
	if err != nil {
		return blob{}, nil, err
	}
	compressed, err := gzipped(tarball)
	if err != nil {
		return blob{}, nil, err
	}
	layer := newBlob(ocispec.MediaTypeImageLayerGzip, compressed)
	config, err := imageConfig(img, digest.FromBytes(tarball))
	if err != nil {
		return blob{}, nil, err
	}
	m, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config.Descriptor,
		Layers:    []ocispec.Descriptor{layer.Descriptor},
	})
	if err != nil {
		return blob{}, nil, fmt.Errorf("encode manifest: %w", err)
	}
	return newBlob(ocispec.MediaTypeImageManifest, m), []blob{config, layer}, nil
}

func imageConfig(img Bytecode, diffID digest.Digest) (blob, error) {
	labels, err := labelsFor(img)
	if err != nil {
		return blob{}, err
	}
	raw, err := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   ocispec.ImageConfig{Labels: labels},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	if err != nil {
		return blob{}, fmt.Errorf("encode image config: %w", err)
	}
	return newBlob(ocispec.MediaTypeImageConfig, raw), nil
}

// layerTar returns a tar holding img.Object as a regular file at the root,
// with fixed owner, mode and time so that the digest depends on content only.
func layerTar(img Bytecode) ([]byte, error) {
	name := img.FileName
	if name == "" || path.Base(name) != name || name == "." || name == ".." {
		return nil, fmt.Errorf("file name %q: want a plain file name such as prog.o", name)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(img.Object)), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	if _, err := tw.Write(img.Object); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	return buf.Bytes(), nil
}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	return buf.Bytes(), nil
}
