package cli

import (
	"bufio"
	"bytes"
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

// printItems writes {"items": [...]} as JSON or YAML, one item at a time
// through one buffer: a status of 100,000 programs is not held in memory
// again, encoded.
func printItems[T any](w io.Writer, format string, items []T) error {
	p := itemPrinter{w: bufio.NewWriter(w), yaml: format == "yaml"}
	p.enc = json.NewEncoder(&p.buf)
	p.enc.SetIndent("    ", "  ")
	p.open(len(items))
	for i := range items {
		if err := p.item(&items[i], i == 0); err != nil {
			return err
		}
	}
	p.close(len(items))
	return p.w.Flush()
}

// itemPrinter writes the items of a list.
type itemPrinter struct {
	w    *bufio.Writer
	yaml bool
	buf  bytes.Buffer
	enc  *json.Encoder
}

func (p *itemPrinter) open(n int) {
	switch {
	case p.yaml && n == 0:
		p.w.WriteString("items: []\n")
	case p.yaml:
		p.w.WriteString("items:\n")
	default:
		p.w.WriteString("{\n  \"items\": [")
	}
}

func (p *itemPrinter) close(n int) {
	if p.yaml {
		return
	}
	if n > 0 {
		p.w.WriteString("\n  ")
	}
	p.w.WriteString("]\n}\n")
}

// item writes one item: an element of the JSON array, indented, or of
// the YAML sequence.
func (p *itemPrinter) item(item any, first bool) error {
	p.buf.Reset()
	if err := p.enc.Encode(item); err != nil {
		return err
	}
	raw := bytes.TrimSuffix(p.buf.Bytes(), []byte("\n"))
	if !p.yaml {
		if !first {
			p.w.WriteByte(',')
		}
		p.w.WriteString("\n    ")
		_, err := p.w.Write(raw)
		return err
	}
	y, err := yaml.JSONToYAML(raw)
	if err != nil {
		return err
	}
	for j, line := range strings.SplitAfter(strings.TrimSuffix(string(y), "\n"), "\n") {
		if j == 0 {
			p.w.WriteString("- ")
		} else {
			p.w.WriteString("  ")
		}
		p.w.WriteString(line)
	}
	return p.w.WriteByte('\n')
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
