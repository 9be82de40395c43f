package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	// Platform is "os/arch[/variant]" such as "linux/s390x"; "" is linux
	// on the architecture bpfleet runs on.
	Platform string
}

// Push builds a bpfman-format image of img (see Build) and pushes it to
// ref, a tag or digest reference. It returns the manifest digest.
func Push(ctx context.Context, ref string, img Bytecode, creds *Credentials) (string, error) {
	a, err := Build(ctx, img)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return a.pushTo(ctx, ref, creds)
}

// Build builds a bpfman-format image: for each object an image manifest
// (OCI media types, one tar+gzip layer holding the object at
// "/<FileName>", labels and platform in the config); for several objects,
// an image index of those manifests, one per platform. The image is
// reproducible: the same objects always make the same digest.
func Build(ctx context.Context, objs ...Bytecode) (*Artifact, error) {
	if len(objs) == 0 {
		return nil, errors.New("build: no object")
	}
	var manifests, blobs []blob
	seen := map[string]string{}
	for _, obj := range objs {
		p, err := obj.platform()
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[platformString(p)]; dup {
			return nil, fmt.Errorf("build: %s and %s are both for %s: one object per platform", prev, obj.FileName, platformString(p))
		}
		seen[platformString(p)] = obj.FileName
		m, b, err := build(obj, p)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", obj.FileName, err)
		}
		m.Platform = &p
		manifests, blobs = append(manifests, m), append(blobs, b...)
	}
	if len(manifests) == 1 {
		manifests[0].Platform = nil
		return newArtifact(ctx, manifests[0], blobs...)
	}
	index, err := buildIndex(manifests)
	if err != nil {
		return nil, err
	}
	return newArtifact(ctx, index, append(blobs, manifests...)...)
}

func buildIndex(manifests []blob) (blob, error) {
	descs := make([]ocispec.Descriptor, len(manifests))
	for i, m := range manifests {
		descs[i] = m.Descriptor
	}
	raw, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	})
	if err != nil {
		return blob{}, fmt.Errorf("encode index: %w", err)
	}
	return newBlob(ocispec.MediaTypeImageIndex, raw), nil
}

// build returns the manifest of img and the blobs (config, layer) it names.
func build(img Bytecode, p ocispec.Platform) (manifest blob, blobs []blob, err error) {
	tarball, err := layerTar(img)
	if err != nil {
		return blob{}, nil, err
	}
	compressed, err := gzipped(tarball)
	if err != nil {
		return blob{}, nil, err
	}
	layer := newBlob(ocispec.MediaTypeImageLayerGzip, compressed)
	config, err := imageConfig(img, p, digest.FromBytes(tarball))
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

func imageConfig(img Bytecode, p ocispec.Platform, diffID digest.Digest) (blob, error) {
	labels, err := labelsFor(img)
	if err != nil {
		return blob{}, err
	}
	raw, err := json.Marshal(ocispec.Image{
		Platform: p,
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
