package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// newImageCmd is `bpfleet image` and its commands.
func newImageCmd(st streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build, push, inspect, list, remove, sign and verify bytecode images",
		Long: `Bytecode images are OCI images in bpfman's format: one layer holding the
eBPF object, config labels io.ebpf.programs and io.ebpf.maps read from the
ELF. build keeps images in a local store ($BPFLEET_STORE, default
~/.local/share/bpfleet/images) until push; ls, rm and inspect work on it.`,
		Args: anyArgs,
		RunE: helpOrUnknown,
	}
	cmd.AddCommand(newBuildCmd(st), newPushCmd(st), newInspectCmd(st), newListCmd(st), newRemoveCmd(st),
		newSignCmd(st), newVerifyCmd(st), newGenerateKeyCmd(st))
	return cmd
}

// objectFlags collects -f and --platform in command-line order: a
// --platform applies to the -f before it.
type objectFlags struct {
	files     []string
	platforms []string
}

func (o *objectFlags) bind(fs *pflag.FlagSet) {
	fs.VarP(funcValue{"file", func(s string) error {
		o.files, o.platforms = append(o.files, s), append(o.platforms, "")
		return nil
	}}, "file", "f", "an eBPF object file (.o); repeat for one per platform")
	fs.Var(funcValue{"os/arch", func(s string) error {
		if len(o.files) == 0 || o.platforms[len(o.platforms)-1] != "" {
			return fmt.Errorf("--platform %s must follow the -f it applies to", s)
		}
		if _, err := oci.ParsePlatform(s); err != nil {
			return err
		}
		o.platforms[len(o.platforms)-1] = s
		return nil
	}}, "platform", "os/arch of the -f before it (default linux/<this machine's arch>)")
}

// funcValue is a flag whose every use calls set, in command-line order.
type funcValue struct {
	typ string
	set func(string) error
}

func (f funcValue) String() string     { return "" }
func (f funcValue) Set(s string) error { return f.set(s) }
func (f funcValue) Type() string       { return f.typ }

func newBuildCmd(st streams) *cobra.Command {
	var objs objectFlags
	var tag string
	cmd := &cobra.Command{
		Use:   "build -f OBJECT.o [-f OBJECT.o --platform OS/ARCH]... -t REF",
		Short: "Package eBPF objects as a bytecode image in the local store",
		Long: `Package eBPF objects as a bytecode image in the local store, tagged REF. One
object makes an image; objects for several platforms (one -f each, with
the --platform after it) make an image index. An object of the wrong byte
order for its platform is refused. Prints REPOSITORY@DIGEST.`,
		Example: `  bpfleet image build -f counter.o -t localhost:5000/bpf/counter:v1
  bpfleet image build -f counter.o -f counter-s390x.o --platform linux/s390x -t localhost:5000/bpf/counter:v1`,
		Args: exactArgs(0, "no arguments (the image is -t REF)"),
		RunE: func(*cobra.Command, []string) error {
			if tag == "" || len(objs.files) == 0 {
				return fmt.Errorf("%w: want -t REF and at least one -f", errUsage)
			}
			return build(st, objs, tag)
		},
	}
	objs.bind(cmd.Flags())
	cmd.Flags().StringVarP(&tag, "tag", "t", "", "the image reference to tag the image with, e.g. registry.example.com/team/prog:v1")
	return cmd
}

func build(st streams, objs objectFlags, tag string) error {
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
	dst, err := localStore(tag)
	if err != nil {
		return err
	}
	if err := a.CopyTo(ctx, dst, dst.reference, nil); err != nil {
		return fmt.Errorf("store %s: %w", tag, err)
	}
	fmt.Fprintf(st.stdout, "%s@%s\n", dst.repoName(), a.Root.Digest)
	return nil
}

func newPushCmd(st streams) *cobra.Command {
	var w where
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push REF",
		Short: "Copy an image from the local store to a registry (or an OCI layout)",
		Long: `Copy the image REF from the local store to its registry, or with --oci-layout
to a directory on disk. Credentials come from the docker config file
($DOCKER_CONFIG/config.json, default ~/.docker/config.json), or from
--username and --password-stdin. Loopback registries are spoken to over
plain HTTP. Prints REPOSITORY@DIGEST.`,
		Example: `  bpfleet image push localhost:5000/bpf/counter:v1
  echo "$TOKEN" | bpfleet image push --username ci --password-stdin registry.example.com/bpf/counter:v1
  bpfleet image push --oci-layout ./out localhost:5000/bpf/counter:v1`,
		Args:              exactArgs(1, "one image reference"),
		ValidArgsFunction: completeStoredRefs,
		RunE: func(_ *cobra.Command, args []string) error {
			return push(st, &w, quiet, args[0])
		},
	}
	w.bind(cmd.Flags(), st.stdin)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not report each blob on standard error")
	return cmd
}

func push(st streams, w *where, quiet bool, ref string) error {
	ctx := context.Background()
	src, root, ok, err := storedImage(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: not in the local store: %w (build it first: bpfleet image build -t %s)", ref, oci.ErrNotFound, ref)
	}
	dst, err := w.open(ref)
	if err != nil {
		return err
	}
	if err := copyImage(ctx, src, dst, root, progress(st.stderr, quiet)); err != nil {
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
	// Source is where the image was read: the local store, a registry or
	// an OCI layout.
	Source string `json:"source"`
	*oci.Description
	// Signatures counts the cosign signatures; Verified lists those that
	// verify with --key.
	Signatures int                `json:"signatures"`
	Verified   []cosign.Signature `json:"verified,omitempty"`
}

// Where inspect found an image.
const (
	sourceLocal    = "local store"
	sourceRegistry = "registry"
	sourceLayout   = "OCI layout"
)

func newInspectCmd(st streams) *cobra.Command {
	var w where
	var remote bool
	var output *outputFlag
	var keys keyFlags
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Print an image's platforms, programs, maps, sizes and signatures",
		Long: `Print an image's platforms, programs, maps, sizes and signatures. The image
is read from the local store when it holds REF (what build made), else
from its registry; --remote reads the registry in any case, --oci-layout
a directory on disk. With --key, the signatures are verified too (exit 3
when none verifies).`,
		Example: `  bpfleet image inspect localhost:5000/bpf/counter:v1
  bpfleet image inspect localhost:5000/bpf/counter:v1 -o json
  bpfleet image inspect --remote --key cosign.pub localhost:5000/bpf/counter:v1`,
		Args:              exactArgs(1, "one image reference"),
		ValidArgsFunction: completeStoredRefs,
		RunE: func(_ *cobra.Command, args []string) error {
			return inspect(st, &w, remote, output.value, keys, args[0])
		},
	}
	w.bind(cmd.Flags(), st.stdin)
	cmd.Flags().BoolVar(&remote, "remote", false, "read the image from its registry even if the local store holds it")
	output = addOutputFlag(cmd, "output format: table, json or yaml", "table", "json", "yaml")
	cmd.Flags().Var(&keys, "key", "a cosign public key file to verify the signatures with (repeatable)")
	cmd.MarkFlagsMutuallyExclusive("remote", "oci-layout")
	return cmd
}

func inspect(st streams, w *where, remote bool, output string, keys keyFlags, ref string) error {
	ctx := context.Background()
	t, root, source, err := openForInspect(ctx, w, remote, ref)
	if err != nil {
		return err
	}
	d, err := oci.Describe(ctx, t, root)
	if err != nil {
		return err
	}
	in := inspection{Reference: ref, Source: source, Description: d}
	if in.Signatures, err = cosign.Count(ctx, t, root.Digest); err != nil {
		return oci.RemoteError(err)
	}
	var verifyErr error
	if len(keys) > 0 && in.Signatures > 0 {
		in.Verified, verifyErr = cosign.Verify(ctx, t, root.Digest, keys)
		verifyErr = oci.RemoteError(verifyErr)
	}
	if output == "table" {
		printInspection(st.stdout, in)
	} else if err := printObject(st.stdout, output, in); err != nil {
		return err
	}
	if len(keys) > 0 && in.Signatures == 0 {
		return fmt.Errorf("%s: %w", ref, cosign.ErrUnsigned)
	}
	return verifyErr
}

// openForInspect opens the image ref for inspect: from the OCI layout
// given, else from the local store if it holds ref and remote is not
// asked for, else from the registry.
func openForInspect(ctx context.Context, w *where, remote bool, ref string) (*target, ocispec.Descriptor, string, error) {
	if w.layout != "" {
		t, root, err := w.openResolved(ctx, ref)
		return t, root, sourceLayout, err
	}
	if !remote {
		if t, root, ok, err := storedImage(ctx, ref); err != nil || ok {
			return t, root, sourceLocal, err
		}
	}
	t, root, err := w.openResolved(ctx, ref)
	return t, root, sourceRegistry, err
}

func printInspection(w io.Writer, in inspection) {
	fmt.Fprintf(w, "Reference:  %s\nSource:     %s\nDigest:     %s\nMedia type: %s\n", in.Reference, in.Source, in.Digest, in.MediaType)
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

func (k *keyFlags) String() string { return "" }
func (k *keyFlags) Type() string   { return "file" }

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

func newSignCmd(st streams) *cobra.Command {
	var w where
	var keyFile string
	cmd := &cobra.Command{
		Use:   "sign --key cosign.key REF",
		Short: "Sign an image in its registry with a cosign key (no transparency log)",
		Long: `Sign the image REF where it is (its registry, or --oci-layout) with a cosign
private key: the signature is stored at cosign's sha256-<digest>.sig tag,
with no transparency log. The key's password is read from $COSIGN_PASSWORD.
cosign verify --key cosign.pub --insecure-ignore-tlog verifies it.`,
		Example: `  COSIGN_PASSWORD=... bpfleet image sign --key cosign.key localhost:5000/bpf/counter:v1`,
		Args:    exactArgs(1, "one image reference"),
		RunE: func(_ *cobra.Command, args []string) error {
			return sign(st, &w, keyFile, args[0])
		},
	}
	w.bind(cmd.Flags(), st.stdin)
	cmd.Flags().StringVar(&keyFile, "key", "", "the cosign private key file; its password is read from $COSIGN_PASSWORD")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func sign(st streams, w *where, keyFile, ref string) error {
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	key, err := cosign.ParsePrivateKey(raw, []byte(os.Getenv("COSIGN_PASSWORD")))
	if err != nil {
		return fmt.Errorf("%s: %w", keyFile, err)
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

func newVerifyCmd(st streams) *cobra.Command {
	var w where
	var keys keyFlags
	cmd := &cobra.Command{
		Use:   "verify --key cosign.pub REF",
		Short: "Check an image's signatures with cosign public keys",
		Long: `Check that a signature of the image REF, in its registry (or --oci-layout),
verifies with one of the public keys. Exit 3 when none does.`,
		Example: `  bpfleet image verify --key cosign.pub localhost:5000/bpf/counter:v1`,
		Args:    exactArgs(1, "one image reference"),
		RunE: func(_ *cobra.Command, args []string) error {
			return verify(st, &w, keys, args[0])
		},
	}
	w.bind(cmd.Flags(), st.stdin)
	cmd.Flags().Var(&keys, "key", "a cosign public key file (repeatable: any one may have signed)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func verify(st streams, w *where, keys keyFlags, ref string) error {
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

func newGenerateKeyCmd(st streams) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Write a cosign key pair (PREFIX.key and PREFIX.pub)",
		Long: `Write a new cosign key pair, PREFIX.key (encrypted with $COSIGN_PASSWORD)
and PREFIX.pub, never over existing files.`,
		Example: `  COSIGN_PASSWORD=... bpfleet image generate-key-pair
  bpfleet image generate-key-pair --output-prefix team-a`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error {
			return generateKeyPair(st, prefix)
		},
	}
	cmd.Flags().StringVar(&prefix, "output-prefix", "cosign", "write PREFIX.key and PREFIX.pub; the password is read from $COSIGN_PASSWORD")
	return cmd
}

func generateKeyPair(st streams, prefix string) error {
	priv, pub, err := cosign.GenerateKeyPair([]byte(os.Getenv("COSIGN_PASSWORD")))
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{prefix + ".key": priv, prefix + ".pub": pub} {
		if err := writeNew(name, data); err != nil {
			return err
		}
	}
	fmt.Fprintf(st.stdout, "%s.key\n%s.pub\n", prefix, prefix)
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
