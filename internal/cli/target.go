package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// where says where an image is read or written: a registry, or an OCI
// layout directory on disk.
type where struct {
	layout        string
	plainHTTP     bool
	username      string
	passwordStdin bool
	stdin         io.Reader
}

func (w *where) bind(fs *pflag.FlagSet, stdin io.Reader) {
	fs.StringVar(&w.layout, "oci-layout", "", "use the OCI image layout in this directory instead of the registry")
	fs.BoolVar(&w.plainHTTP, "plain-http", false, "speak plain HTTP to the registry (always so for 127.0.0.1 and localhost)")
	fs.StringVar(&w.username, "username", "", "registry user name (default: from the docker config file)")
	fs.BoolVar(&w.passwordStdin, "password-stdin", false, "read the registry password from standard input")
	w.stdin = stdin
}

// target is an opened registry repository or layout, and the tag or digest
// the reference names in it.
type target struct {
	oras.Target
	ref       registry.Reference
	reference string
}

// open opens where ref lives.
func (w *where) open(ref string) (*target, error) {
	r, err := bpfoci.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	t := &target{ref: r, reference: r.Reference}
	if t.reference == "" {
		t.reference = "latest"
	}
	if w.layout != "" {
		t.Target, err = oci.New(w.layout)
		return t, err
	}
	creds, err := w.credentials(r.Registry)
	if err != nil {
		return nil, err
	}
	repo, err := bpfoci.NewRepository(ref, creds)
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = repo.PlainHTTP || w.plainHTTP
	t.Target = repo
	return t, nil
}

// credentials come from the flags, else from the docker config file.
func (w *where) credentials(host string) (*bpfoci.Credentials, error) {
	if w.username != "" || w.passwordStdin {
		if !w.passwordStdin {
			return nil, fmt.Errorf("%w: --username needs --password-stdin", errUsage)
		}
		line, err := bufio.NewReader(w.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read password: %w", err)
		}
		return &bpfoci.Credentials{Username: w.username, Password: strings.TrimRight(line, "\r\n")}, nil
	}
	return dockerConfigCredentials(host)
}

// dockerConfigCredentials reads $DOCKER_CONFIG/config.json (default
// ~/.docker/config.json), as docker login writes it; no file is no
// credentials.
func dockerConfigCredentials(host string) (*bpfoci.Credentials, error) {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil
		}
		dir = filepath.Join(home, ".docker")
	}
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	creds, err := bpfoci.CredentialsFromDockerConfig(raw, host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return creds, nil
}

// openResolved opens where ref lives and resolves it to the manifest or
// index it names.
func (w *where) openResolved(ctx context.Context, ref string) (*target, ocispec.Descriptor, error) {
	// An image to read must be there: do not make an empty layout.
	if w.layout != "" {
		_, err := os.Stat(filepath.Join(w.layout, ocispec.ImageLayoutFile))
		if errors.Is(err, os.ErrNotExist) {
			return nil, ocispec.Descriptor{}, fmt.Errorf("%s: no OCI image layout: %w", w.layout, bpfoci.ErrNotFound)
		}
		if err != nil {
			return nil, ocispec.Descriptor{}, err
		}
	}
	t, err := w.open(ref)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	root, err := t.resolve(ctx)
	return t, root, err
}

// resolve returns the descriptor of the manifest or index the reference
// names.
func (t *target) resolve(ctx context.Context) (ocispec.Descriptor, error) {
	desc, err := t.Resolve(ctx, t.reference)
	if errors.Is(err, errdef.ErrNotFound) {
		return desc, fmt.Errorf("%s: %w", t.ref, bpfoci.ErrNotFound)
	}
	if err != nil {
		return desc, fmt.Errorf("resolve %s: %w", t.ref, bpfoci.RemoteError(err))
	}
	return desc, nil
}

// repoName is "registry/repository", as signatures name it.
func (t *target) repoName() string {
	return t.ref.Registry + "/" + t.ref.Repository
}
