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

// outputFlag is -o: one of its formats, checked as the flag is parsed.
type outputFlag struct {
	value   string
	formats []string
}

// addOutputFlag adds -o to cmd, formats[0] its default, with its
// completion.
func addOutputFlag(cmd *cobra.Command, help string, formats ...string) *outputFlag {
	o := &outputFlag{value: formats[0], formats: formats}
	cmd.Flags().VarP(o, "output", "o", help)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	return o
}

func (o *outputFlag) String() string { return o.value }
func (o *outputFlag) Type() string   { return "format" }

func (o *outputFlag) Set(s string) error {
	if !slices.Contains(o.formats, s) {
		return fmt.Errorf("want %s", strings.Join(o.formats, ", "))
	}
	o.value = s
	return nil
}

// structured reports whether the output is JSON or YAML.
func (o *outputFlag) structured() bool { return o.value == "json" || o.value == "yaml" }

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
