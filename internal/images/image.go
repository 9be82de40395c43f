package images

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image is a container image of one main package of this module.
type Image struct {
	// Name is the binary's name, at /<Name> in the image, its entrypoint
	// and its title label, e.g. "bpfleet-operator".
	Name string
	// Package is the main package, as go build takes it relative to
	// Options.Dir, e.g. "./cmd/bpfleet-operator".
	Package string
	// User is the config's "uid:gid", e.g. "65532:65532".
	User string
	// Description is the image's description label.
	Description string
}

// The product images.
var (
	// Operator runs the cluster-side reconcilers, as nonroot.
	Operator = Image{
		Name:        "bpfleet-operator",
		Package:     "./cmd/bpfleet-operator",
		User:        "65532:65532",
		Description: "bpfleet's operator: schedules eBPF programs to nodes and reports their status",
	}
	// Agent loads and attaches programs on its node, as root (it runs
	// privileged: bpf(), bpffs and tracefs).
	Agent = Image{
		Name:        "bpfman-agent",
		Package:     "./bpfman-agent",
		User:        "0:0",
		Description: "bpfleet's node agent: loads and attaches eBPF programs on its node",
	}
)

// Options say where to build, for which platforms, and the labels' values.
type Options struct {
	// Dir is the module's directory, where go build and git run; "" is the
	// current directory.
	Dir string
	// CacheDir receives the binaries, one subdirectory per platform.
	CacheDir string
	// Platforms are the images' platforms; nil is DefaultPlatforms.
	Platforms []v1.Platform
	// Version is the version label, e.g. the tag; "" leaves it out.
	Version string
	// Revision is the revision label and Created the images' date; with
	// Revision "", both are read from git in Dir (see the package doc).
	// A zero Created is the Unix epoch.
	Revision string
	Created  time.Time
}

// Build cross-compiles img's package for each platform and returns the
// OCI image index of the platforms' images.
func Build(ctx context.Context, opts Options, img Image) (v1.ImageIndex, error) {
	opts, err := opts.complete(ctx)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", img.Name, err)
	}
	ca, err := readCABundle()
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", img.Name, err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range opts.Platforms {
		one, err := buildPlatform(ctx, opts, img, p, ca)
		if err != nil {
			return nil, fmt.Errorf("build %s for %s: %w", img.Name, p.String(), err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: one, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.Annotations(idx, labels(opts, img)).(v1.ImageIndex), nil
}

// complete fills in the defaults: the platforms, an absolute cache
// directory, and the revision and date from git.
func (o Options) complete(ctx context.Context) (Options, error) {
	if o.CacheDir == "" {
		return o, errors.New("no cache directory")
	}
	dir, err := filepath.Abs(o.CacheDir)
	if err != nil {
		return o, fmt.Errorf("cache directory: %w", err)
	}
	o.CacheDir = dir
	if o.Platforms == nil {
		o.Platforms = DefaultPlatforms()
	}
	if o.Revision == "" {
		o.Revision, o.Created, err = gitRevision(ctx, o.Dir)
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0).UTC()
	}
	return o, err
}

// buildPlatform builds the image of img for one platform.
func buildPlatform(ctx context.Context, opts Options, img Image, p v1.Platform, ca []byte) (v1.Image, error) {
	bin, err := compile(ctx, opts, img, p)
	if err != nil {
		return nil, err
	}
	layer, err := newLayer(img.Name, bin, ca, opts.Created)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, configFile(opts, img, p))
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: opts.Created}, CreatedBy: "bpfleet internal/images: go build " + img.Package},
	})
}

// configFile is the config of img for platform p, before its layer.
func configFile(opts Options, img Image, p v1.Platform) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: opts.Created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{"/" + img.Name},
			User:       img.User,
			Labels:     labels(opts, img),
		},
	}
}

// labels are the OCI labels of img's configs, and the annotations of its
// index.
func labels(opts Options, img Image) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.revision":    opts.Revision,
		"org.opencontainers.image.created":     opts.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.title":       img.Name,
		"org.opencontainers.image.description": img.Description,
	}
	if opts.Version != "" {
		l["org.opencontainers.image.version"] = opts.Version
	}
	return l
}

// Source is the images' source label: where the code lives.
const Source = "https://github.com/bpfleet/bpfleet"
