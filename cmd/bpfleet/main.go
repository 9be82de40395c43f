// Command bpfleet is the platform team's tool: it packages eBPF objects as
// bytecode images (bpfman's format), pushes them, inspects them, and signs
// and verifies them with cosign-compatible key pairs, offline.
//
//	bpfleet image build   -f prog.o [-f prog-s390x.o --platform linux/s390x] -t REF
//	bpfleet image push    REF [--oci-layout DIR]
//	bpfleet image inspect REF [--oci-layout DIR] [-o table|json] [--key cosign.pub]
//	bpfleet image sign    --key cosign.key REF [--oci-layout DIR]
//	bpfleet image verify  --key cosign.pub REF [--oci-layout DIR]
//	bpfleet image generate-key-pair [--output-prefix cosign]
//
// Exit codes: 0 success; 1 any other failure; 2 bad usage; 3 the image is
// not signed by the keys given (verify, inspect --key); 4 the image or tag
// does not exist; 5 the registry refused the credentials.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

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

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// streams are the streams a command reads and writes.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(args, streams{stdin, stdout, stderr})
	if err == nil || errors.Is(err, flag.ErrHelp) { // -h printed the usage
		return 0
	}
	fmt.Fprintln(stderr, "bpfleet:", err)
	return exitCode(err)
}

func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, cosign.ErrUnsigned), errors.Is(err, cosign.ErrNoValidSignature):
		return exitNotSigned
	case errors.Is(err, oci.ErrNotFound):
		return exitNotFound
	case errors.Is(err, oci.ErrUnauthorized):
		return exitUnauthorized
	}
	return exitFailure
}

const usage = `usage: bpfleet image <command> [flags]

commands:
  build              package .o files as a bytecode image in the local store
  push               copy an image from the local store to a registry (or an OCI layout)
  inspect            print an image's platforms, programs, maps, sizes and signatures
  sign               sign an image with a cosign key (no transparency log)
  verify             check an image's signatures with a cosign public key
  generate-key-pair  write cosign.key and cosign.pub

Run "bpfleet image <command> -h" for a command's flags.`

func dispatch(args []string, st streams) error {
	if len(args) < 2 || args[0] != "image" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "help" || args[0] == "--help") {
			fmt.Fprintln(st.stdout, usage)
			return nil
		}
		return fmt.Errorf("%w\n%s", errUsage, usage)
	}
	cmds := map[string]func([]string, streams) error{
		"build": buildCmd, "push": pushCmd, "inspect": inspectCmd,
		"sign": signCmd, "verify": verifyCmd, "generate-key-pair": generateKeyCmd,
	}
	cmd, ok := cmds[args[1]]
	if !ok {
		return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[1], usage)
	}
	return cmd(args[2:], st)
}
