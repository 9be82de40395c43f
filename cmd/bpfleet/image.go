package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// newFlags returns a flag set whose errors are usage errors.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bpfleet image "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bpfleet image %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and returns the one positional argument, the image
// reference.
func parse(fs *flag.FlagSet, args []string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return "", fmt.Errorf("%w: want exactly one image reference", errUsage)
	}
	return fs.Arg(0), nil
}

// parseFlags parses args; -h is not an error (flag.ErrHelp: exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

// objectFlags collects -f and --platform in command-line order: a
// --platform applies to the -f before it.
type objectFlags struct {
	files     []string
	platforms []string
}

func (o *objectFlags) bind(fs *flag.FlagSet) {
	fs.Func("f", "an eBPF object file (.o); repeat for one per platform", func(s string) error {
		o.files, o.platforms = append(o.files, s), append(o.platforms, "")
		return nil
	})
	fs.Func("platform", "os/arch of the -f before it (default linux/<this machine's arch>)", func(s string) error {
		if len(o.files) == 0 || o.platforms[len(o.platforms)-1] != "" {
			return fmt.Errorf("--platform %s must follow the -f it applies to", s)
		}
		if _, err := oci.ParsePlatform(s); err != nil {
			return err
		}
		o.platforms[len(o.platforms)-1] = s
		return nil
	})
}

func buildCmd(args []string, st streams) error {
	fs := newFlags("build", "-f prog.o [-f prog-s390x.o --platform linux/s390x] -t REF", st.stderr)
	var objs objectFlags
	objs.bind(fs)
	tag := fs.String("t", "", "the image reference to tag the image with, e.g. registry.example.com/team/prog:v1")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tag == "" || len(objs.files) == 0 || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("%w: want -t REF and at least one -f", errUsage)
	}
	var images []oci.Bytecode
	for i, file := range objs.files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		b, err := oci.BytecodeFromELF(filepath.Base(file), objs.platforms[i], raw)
		if err != nil {
			return err
		}
		images = append(images, b)
	}
	ctx := context.Background()
	a, err := oci.Build(ctx, images...)
	if err != nil {
		return err
	}
	dst, err := localStore(*tag)
	if err != nil {
		return err
	}
	if err := a.CopyTo(ctx, dst, dst.reference, nil); err != nil {
		return fmt.Errorf("store %s: %w", *tag, err)
	}
	fmt.Fprintf(st.stdout, "%s@%s\n", dst.repoName(), a.Root.Digest)
	return nil
}

func pushCmd(args []string, st streams) error {
	fs := newFlags("push", "REF [--oci-layout DIR]", st.stderr)
	var w where
	w.bind(fs, st.stdin)
	quiet := fs.Bool("q", false, "do not report each blob on standard error")
	ref, err := parse(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	src, err := localStore(ref)
	if err != nil {
		return err
	}
	root, err := src.resolve(ctx)
	if err != nil {
		return fmt.Errorf("%w (build it first: bpfleet image build -t %s)", err, ref)
	}
	dst, err := w.open(ref)
	if err != nil {
		return err
	}
	if err := copyImage(ctx, src, dst, root, progress(st.stderr, *quiet)); err != nil {
		return fmt.Errorf("push %s: %w", ref, oci.RemoteError(err))
	}
	fmt.Fprintf(st.stdout, "%s@%s\n", dst.repoName(), root.Digest)
	return nil
}

func copyImage(ctx context.Context, src, dst *target, root ocispec.Descriptor, p oci.Progress) error {
	return oci.Copy(ctx, src, dst, root, dst.reference, p)
}

func progress(w io.Writer, quiet bool) oci.Progress {
	if quiet {
		return nil
	}
	return func(d ocispec.Descriptor, copied bool) {
		verb := "copied"
		if !copied {
			verb = "exists"
		}
		fmt.Fprintf(w, "%s %s %s (%s)\n", verb, d.Digest.Encoded()[:12], d.MediaType, size(d.Size))
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// inspection is what inspect prints.
type inspection struct {
	Reference string `json:"reference"`
	*oci.Description
	// Signatures counts the cosign signatures; Verified lists those that
	// verify with --key.
	Signatures int                `json:"signatures"`
	Verified   []cosign.Signature `json:"verified,omitempty"`
}

func inspectCmd(args []string, st streams) error {
	fs := newFlags("inspect", "REF [--oci-layout DIR] [-o table|json] [--key cosign.pub]", st.stderr)
	var w where
	w.bind(fs, st.stdin)
	output := fs.String("o", "table", "output format: table or json")
	var keys keyFlags
	fs.Var(&keys, "key", "a cosign public key file to verify the signatures with (repeatable)")
	ref, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("%w: -o %s: want table or json", errUsage, *output)
	}
	ctx := context.Background()
	t, root, err := w.openResolved(ctx, ref)
	if err != nil {
		return err
	}
	d, err := oci.Describe(ctx, t, root)
	if err != nil {
		return err
	}
	in := inspection{Reference: ref, Description: d}
	if in.Signatures, err = cosign.Count(ctx, t, root.Digest); err != nil {
		return oci.RemoteError(err)
	}
	var verifyErr error
	if len(keys) > 0 && in.Signatures > 0 {
		in.Verified, verifyErr = cosign.Verify(ctx, t, root.Digest, keys)
		verifyErr = oci.RemoteError(verifyErr)
	}
	if *output == "json" {
		enc := json.NewEncoder(st.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(in); err != nil {
			return err
		}
	} else {
		printInspection(st.stdout, in)
	}
	if len(keys) > 0 && in.Signatures == 0 {
		return fmt.Errorf("%s: %w", ref, cosign.ErrUnsigned)
	}
	return verifyErr
}

func printInspection(w io.Writer, in inspection) {
	fmt.Fprintf(w, "Reference:  %s\nDigest:     %s\nMedia type: %s\n", in.Reference, in.Digest, in.MediaType)
	sigs := fmt.Sprintf("%d", in.Signatures)
	if len(in.Verified) > 0 {
		sigs += fmt.Sprintf(" (%d verified)", len(in.Verified))
	}
	fmt.Fprintf(w, "Signatures: %s\n\n", sigs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tKIND\tNAME\tTYPE\tSIZE\tDIGEST")
	for _, img := range in.Images {
		sz := fmt.Sprintf("%s (layer %s)", size(img.Size), size(img.LayerSize))
		fmt.Fprintf(tw, "%s\t\t\t\t%s\t%s\n", img.Platform, sz, img.Digest)
		for _, kind := range []struct {
			name    string
			entries map[string]string
		}{{"program", img.Programs}, {"map", img.Maps}} {
			for _, name := range sortedKeys(kind.entries) {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\t\t\n", kind.name, name, kind.entries[name])
			}
		}
	}
	tw.Flush()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keyFlags are --key files, read as cosign public keys.
type keyFlags []cosign.Key

func (k *keyFlags) String() string { return fmt.Sprint(len(*k), " keys") }

func (k *keyFlags) Set(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pub, err := cosign.ParsePublicKey(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	*k = append(*k, cosign.Key{Name: file, Public: pub})
	return nil
}

func signCmd(args []string, st streams) error {
	fs := newFlags("sign", "--key cosign.key REF [--oci-layout DIR]", st.stderr)
	var w where
	w.bind(fs, st.stdin)
	keyFile := fs.String("key", "", "the cosign private key file; its password is read from $COSIGN_PASSWORD")
	ref, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *keyFile == "" {
		return fmt.Errorf("%w: --key is required", errUsage)
	}
	raw, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	key, err := cosign.ParsePrivateKey(raw, []byte(os.Getenv("COSIGN_PASSWORD")))
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	ctx := context.Background()
	t, root, err := w.openResolved(ctx, ref)
	if err != nil {
		return err
	}
	sig, err := cosign.Sign(ctx, t, t.repoName(), root.Digest, key)
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, oci.RemoteError(err))
	}
	fmt.Fprintf(st.stderr, "signature %s stored at tag %s\n", sig, cosign.SignatureTag(root.Digest))
	fmt.Fprintf(st.stdout, "%s@%s\n", t.repoName(), root.Digest)
	return nil
}

func verifyCmd(args []string, st streams) error {
	fs := newFlags("verify", "--key cosign.pub REF [--oci-layout DIR]", st.stderr)
	var w where
	w.bind(fs, st.stdin)
	var keys keyFlags
	fs.Var(&keys, "key", "a cosign public key file (repeatable: any one may have signed)")
	ref, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: --key is required", errUsage)
	}
	ctx := context.Background()
	t, root, err := w.openResolved(ctx, ref)
	if err != nil {
		return err
	}
	sigs, err := cosign.Verify(ctx, t, root.Digest, keys)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", t.repoName(), root.Digest, oci.RemoteError(err))
	}
	for _, s := range sigs {
		fmt.Fprintf(st.stderr, "verified: signature %s by %s\n", s.Layer.Encoded()[:12], s.Key)
	}
	fmt.Fprintf(st.stdout, "%s@%s\n", t.repoName(), root.Digest)
	return nil
}

func generateKeyCmd(args []string, st streams) error {
	fs := newFlags("generate-key-pair", "[--output-prefix cosign]", st.stderr)
	prefix := fs.String("output-prefix", "cosign", "write PREFIX.key and PREFIX.pub (never over existing files); the password is read from $COSIGN_PASSWORD")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	priv, pub, err := cosign.GenerateKeyPair([]byte(os.Getenv("COSIGN_PASSWORD")))
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{*prefix + ".key": priv, *prefix + ".pub": pub} {
		if err := writeNew(name, data); err != nil {
			return err
		}
	}
	fmt.Fprintf(st.stdout, "%s.key\n%s.pub\n", *prefix, *prefix)
	return nil
}

// writeNew writes a file that must not exist yet (a key pair is not
// overwritten by mistake).
func writeNew(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w (remove it, or choose another --output-prefix)", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
