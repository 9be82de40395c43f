package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// The local store keeps what build makes until push: under its root
// ($BPFLEET_STORE, default $XDG_DATA_HOME/bpfleet/images), one OCI image
// layout per registry/repository (a port's ':' is '_' in the path, which
// no host name holds), tagged by tag.

// storeRoot is the local store's directory.
func storeRoot() (string, error) {
	if root := os.Getenv("BPFLEET_STORE"); root != "" {
		return root, nil
	}
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("local image store: %w (set BPFLEET_STORE)", err)
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dataHome, "bpfleet", "images"), nil
}

// localStore opens the layout of ref's repository in the local store
// (making it on the first write).
func localStore(ref string) (*target, error) {
	root, err := storeRoot()
	if err != nil {
		return nil, err
	}
	r, err := bpfoci.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if _, err := r.Digest(); err == nil {
		return nil, fmt.Errorf("%w: %s: the local store names images by tag, not digest", errUsage, ref)
	}
	w := where{layout: layoutDir(root, r)}
	return w.open(ref)
}

// layoutDir is the layout of r's repository in the store at root.
func layoutDir(root string, r registry.Reference) string {
	return filepath.Join(root, strings.ReplaceAll(r.Registry, ":", "_"), filepath.FromSlash(r.Repository))
}

// storedImage opens ref in the local store; ok is false when the store
// does not hold it (then nothing is made on disk).
func storedImage(ctx context.Context, ref string) (t *target, root ocispec.Descriptor, ok bool, err error) {
	r, err := bpfoci.ParseReference(ref)
	if err != nil {
		return nil, root, false, fmt.Errorf("%w: %w", errUsage, err)
	}
	if _, err := r.Digest(); err == nil {
		return nil, root, false, nil // the store holds tags only
	}
	dir, err := storeRoot()
	if err != nil {
		return nil, root, false, err
	}
	w := where{layout: layoutDir(dir, r)}
	if _, err := os.Stat(filepath.Join(w.layout, ocispec.ImageLayoutFile)); err != nil {
		return nil, root, false, nil
	}
	if t, err = w.open(ref); err != nil {
		return nil, root, false, err
	}
	root, err = t.Resolve(ctx, t.reference)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, root, false, nil
	}
	return t, root, err == nil, err
}

// storedTag is one tag of the local store.
type storedTag struct {
	Reference string `json:"reference"`
	*bpfoci.Description
}

// listStore returns every tag in the local store, by reference.
func listStore(ctx context.Context) ([]storedTag, error) {
	root, err := storeRoot()
	if err != nil {
		return nil, err
	}
	var out []storedTag
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return fs.SkipAll // an empty store
		}
		if err != nil || d.IsDir() || d.Name() != ocispec.ImageLayoutFile {
			return err
		}
		tags, err := layoutTags(ctx, root, filepath.Dir(path))
		out = append(out, tags...)
		return err
	})
	slices.SortFunc(out, func(a, b storedTag) int { return strings.Compare(a.Reference, b.Reference) })
	return out, err
}

// layoutTags describes the tags of the layout dir under the store's root.
func layoutTags(ctx context.Context, root, dir string) ([]storedTag, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return nil, err
	}
	registry, repository, _ := strings.Cut(filepath.ToSlash(rel), "/")
	repo := strings.ReplaceAll(registry, "_", ":") + "/" + repository
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var out []storedTag
	err = store.Tags(ctx, "", func(tags []string) error {
		for _, tag := range tags {
			desc, err := store.Resolve(ctx, tag)
			if err != nil {
				return err
			}
			d, err := bpfoci.Describe(ctx, store, desc)
			if err != nil {
				return fmt.Errorf("%s:%s: %w", repo, tag, err)
			}
			out = append(out, storedTag{Reference: repo + ":" + tag, Description: d})
		}
		return nil
	})
	return out, err
}

func newListCmd(st streams) *cobra.Command {
	var output *outputFlag
	var quiet bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the images in the local store",
		Example: `  bpfleet image ls
  bpfleet image ls -q | xargs bpfleet image rm`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tags, err := listStore(cmd.Context())
			if err != nil {
				return err
			}
			switch {
			case quiet:
				for _, t := range tags {
					fmt.Fprintln(st.stdout, t.Reference)
				}
			case output.value == "table":
				printStore(st, tags)
			default:
				return printItems(st.stdout, output.value, tags)
			}
			return nil
		},
	}
	output = addOutputFlag(cmd, "output format: table, json or yaml", "table", "json", "yaml")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the references")
	return cmd
}

func printStore(st streams, tags []storedTag) {
	tw := tabwriter.NewWriter(st.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERENCE\tDIGEST\tPLATFORMS\tPROGRAMS\tSIZE")
	for _, t := range tags {
		var platforms, programs []string
		var total int64
		for _, img := range t.Images {
			platforms = append(platforms, img.Platform)
			total += img.Size
			for name := range img.Programs {
				if !slices.Contains(programs, name) {
					programs = append(programs, name)
				}
			}
		}
		slices.Sort(programs)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Reference, shortDigest(t.Digest.String()),
			strings.Join(platforms, ","), strings.Join(programs, ","), size(total))
	}
	tw.Flush()
}

// shortDigest is a digest's algorithm and first 12 hex digits.
func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

func newRemoveCmd(st streams) *cobra.Command {
	return &cobra.Command{
		Use:     "rm REF...",
		Aliases: []string{"remove"},
		Short:   "Remove images from the local store",
		Long: `Remove the tags REF from the local store, and the content no other tag
holds. A registry is never touched.`,
		Example:           `  bpfleet image rm localhost:5000/bpf/counter:v1`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeStoredRefs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			for _, ref := range args {
				if err := removeStored(cmd.Context(), ref); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(st.stdout, ref)
			}
			return errors.Join(errs...)
		},
	}
}

// removeStored untags ref in the local store and deletes what no other
// tag holds; a layout left empty goes, and so do directories it leaves
// empty.
func removeStored(ctx context.Context, ref string) error {
	t, desc, ok, err := storedImage(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: not in the local store: %w", ref, bpfoci.ErrNotFound)
	}
	store := t.Target.(*oci.Store)
	if err := store.Untag(ctx, t.reference); err != nil {
		return err
	}
	if err := store.SaveIndex(); err != nil {
		return err
	}
	shared, left := false, 0
	err = store.Tags(ctx, "", func(tags []string) error {
		left += len(tags)
		for _, tag := range tags {
			d, err := store.Resolve(ctx, tag)
			shared = shared || err == nil && d.Digest == desc.Digest
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !shared {
		if err := store.Delete(ctx, desc); err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return fmt.Errorf("remove %s: %w", ref, err)
		}
	}
	if left > 0 {
		return nil
	}
	return removeLayout(t.ref)
}

// removeLayout removes the layout of r's repository from the store, and
// the directories above it that it leaves empty.
func removeLayout(r registry.Reference) error {
	root, err := storeRoot()
	if err != nil {
		return err
	}
	dir := layoutDir(root, r)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for dir = filepath.Dir(dir); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty
			break
		}
	}
	return nil
}
