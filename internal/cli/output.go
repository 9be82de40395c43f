package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// checkOutput refuses an -o format not in formats.
func checkOutput(output string, formats ...string) error {
	if !slices.Contains(formats, output) {
		return fmt.Errorf("%w: -o %s: want %s", errUsage, output, strings.Join(formats, ", "))
	}
	return nil
}

// printObject writes v as indented JSON or as YAML.
func printObject(w io.Writer, format string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if raw, err = yaml.JSONToYAML(raw); err != nil {
			return err
		}
		_, err = w.Write(raw)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", raw)
	return err
}

// completeStoredRefs completes an image reference from the local store.
func completeStoredRefs(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	tags, err := listStore(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var refs []cobra.Completion
	for _, t := range tags {
		if strings.HasPrefix(t.Reference, toComplete) {
			refs = append(refs, t.Reference)
		}
	}
	return refs, cobra.ShellCompDirectiveNoFileComp
}
