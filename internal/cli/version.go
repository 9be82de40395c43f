package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bpfleet/bpfleet/internal/buildinfo"
)

func newVersionCmd(st streams) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, git revision and Go version of this build",
		Long: `Print the version, git revision and Go version of this build. The operator
and the agent log the same when they start, and export it as the metrics
bpfleet_operator_build_info and bpfleet_agent_build_info.`,
		Example: `  bpfleet version
  bpfleet version -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error {
			if !output.structured() {
				_, err := fmt.Fprintf(st.stdout, "bpfleet %s\n", buildinfo.Get())
				return err
			}
			return printObject(st.stdout, output.value, buildinfo.Get())
		},
	}
	output = addOutputFlag(cmd, "output format: text, json or yaml", "text", "json", "yaml")
	return cmd
}
