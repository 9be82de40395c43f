package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bpfleet/bpfleet/internal/buildinfo"
	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// Exit codes a script can rely on.
const (
	exitFailure      = 1
	exitUsage        = 2
	exitNotSigned    = 3
	exitNotFound     = 4
	exitUnauthorized = 5
)

// errUsage is wrapped by errors in the command line itself.
var errUsage = errors.New("usage")

// The names the binary answers to: the platform team's CLI, and the
// kubectl plugin (krew's naming: kubectl finds kubectl-bpfleet on the
// PATH and runs it for `kubectl bpfleet`; kubectl_complete-bpfleet
// completes its arguments).
const (
	pluginName         = "kubectl-bpfleet"
	pluginCompleteName = "kubectl_complete-bpfleet"
)

// streams are the streams a command reads and writes.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Main runs the command line args, args[0] being the name the binary was
// run as, and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := strings.TrimSuffix(filepath.Base(args[0]), ".exe")
	args = args[1:]
	if name == pluginCompleteName {
		name, args = pluginName, append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	root := newRoot(name == pluginName, streams{stdin, stdout, stderr})
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "See '%s --help' for usage.\n", cmd.CommandPath())
	}
	return exitCode(err)
}

func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, cosign.ErrUnsigned), errors.Is(err, cosign.ErrNoValidSignature):
		return exitNotSigned
	case errors.Is(err, oci.ErrNotFound), errors.Is(err, errNoProgram):
		return exitNotFound
	case errors.Is(err, oci.ErrUnauthorized):
		return exitUnauthorized
	}
	return exitFailure
}

// newRoot returns the command tree: `bpfleet`, or as the kubectl plugin
// only what reads the cluster (status, nodes) and version.
func newRoot(plugin bool, st streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "bpfleet",
		Short: "Package, sign and inspect eBPF bytecode images; see where programs run",
		Long: `bpfleet is the command line of bpfleet, the Kubernetes operator for eBPF programs.

Platform teams package eBPF objects as bytecode images (bpfman's format),
sign them and push them (bpfleet image). Installed as kubectl-bpfleet, the
same binary is the kubectl plugin: kubectl bpfleet status and nodes show
where programs run and what each node's kernel can do.

Exit codes: 0 success; 1 any other failure; 2 bad usage; 3 the image is
not signed by the keys given; 4 the image, tag or program does not exist;
5 the registry refused the credentials.`,
		Version:       buildinfo.Get().String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          anyArgs,
		RunE:          helpOrUnknown,
	}
	if plugin {
		root.Use = pluginName
		root.Short = "See where bpfleet's eBPF programs run, node by node"
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl bpfleet"}
	}
	root.SetIn(st.stdin)
	root.SetOut(st.stdout)
	root.SetErr(st.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %w", errUsage, err) })
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentPreRunE = checkFlags
	var kube kubeFlags
	if !plugin {
		root.AddCommand(newImageCmd(st))
	}
	root.AddCommand(newStatusCmd(&kube, st), newNodesCmd(&kube, st), newVersionCmd(st))
	return root
}

// checkFlags makes a missing required flag, or flags that go only
// together or only apart, usage errors (cobra would check them next, as
// plain errors).
func checkFlags(cmd *cobra.Command, _ []string) error {
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// helpOrUnknown is the action of a command that only groups others: help
// without arguments, a usage error naming an unknown command.
func helpOrUnknown(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return fmt.Errorf("%w: %s", errUsage, msg)
}

// anyArgs accepts any arguments, for helpOrUnknown to judge.
func anyArgs(*cobra.Command, []string) error { return nil }

// exactArgs wants n positional arguments, called what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%w: want %s, got %d arguments", errUsage, what, len(args))
		}
		return nil
	}
}

// maxArgs wants at most n positional arguments, called what.
func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return fmt.Errorf("%w: want at most %s, got %d arguments", errUsage, what, len(args))
		}
		return nil
	}
}
