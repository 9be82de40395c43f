// Command bpfleet is the platform team's tool (bpfleet image: build, push,
// inspect, sign and verify bytecode images, and the local store), and,
// installed as kubectl-bpfleet, the kubectl plugin that shows where
// programs run (kubectl bpfleet status, nodes). See internal/cli, or run
// bpfleet --help.
package main

import (
	"os"

	"github.com/bpfleet/bpfleet/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
