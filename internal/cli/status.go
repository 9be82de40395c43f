package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// errNoProgram says the program named does not exist (exit 4).
var errNoProgram = errors.New("no such program")

// nodeProgram is one program on one node, as status prints it: what the
// node's set asks (kind, name, generation, image) and what its report
// says it runs.
type nodeProgram struct {
	Node      string    `json:"node"`
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
	// Generation is the program's generation the node is asked to run;
	// Reported the one its report is about (they differ while the node
	// takes a change).
	Generation int64 `json:"generation"`
	Reported   int64 `json:"reportedGeneration,omitempty"`
	// State is the report's (Ready, Failed, Unsupported, Pending,
	// Unloading); Pending too while the node has not reported the program.
	State   bpfleetv1.ProgramState `json:"state"`
	Reason  string                 `json:"reason,omitempty"`
	Message string                 `json:"message,omitempty"`
	// Image is the image by digest (or Path, a file on the node).
	Image     string                              `json:"image,omitempty"`
	Path      string                              `json:"path,omitempty"`
	ProgramID uint32                              `json:"programID,omitempty"`
	Programs  []bpfleetv1.ProgramAttachmentStatus `json:"programs,omitempty"`
	Links     []bpfleetv1.LinkStatus              `json:"links,omitempty"`
	Maps      map[string]uint32                   `json:"maps,omitempty"`
	Pods      *bpfleetv1.PodTargetsStatus         `json:"pods,omitempty"`
	PinPath   string                              `json:"pinPath,omitempty"`
	// RunStats, for a program that asks for them (an application's are
	// in Programs).
	RunStats *bpfleetv1.RunStats `json:"runStats,omitempty"`
}

func newStatusCmd(kube *kubeFlags, st streams) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "status [KIND/NAME]",
		Short: "Show where programs run, node by node",
		Long: `Show, for each node, each program it is asked to run: its state, the
generation it runs, its kernel program and link IDs, its image digest and
its last error. It reads the API only: each node's NodeProgramSet (what the
node is asked to run) and NodeProgramReport (what its agent reports).

KIND/NAME narrows it to one program, the kind as kubectl names it
(tracepointprogram/opens, tpp/opens); a BpfApplication is looked up in the
namespace of -n or the kubeconfig's context.`,
		Example: `  kubectl bpfleet status
  kubectl bpfleet status tracepointprogram/opens
  kubectl bpfleet status bpfapplication/flows -n team-a -o yaml`,
		Args:              maxArgs(1, "one KIND/NAME"),
		ValidArgsFunction: completePrograms(kube),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := kube.connect()
			if err != nil {
				return err
			}
			return status(cmd.Context(), c, st.stdout, output, args)
		},
	}
	kube.bind(cmd.Flags())
	output = addOutputFlag(cmd, "output format: table, wide (link targets, pin paths), json or yaml", "table", "wide", "json", "yaml")
	return cmd
}

func status(ctx context.Context, c *cluster, w io.Writer, output *outputFlag, args []string) error {
	var want func(np *bpfleetv1.NodeProgram) bool
	var summary string
	if len(args) == 1 {
		kind, p, err := c.program(ctx, args[0])
		if err != nil {
			return err
		}
		want = func(np *bpfleetv1.NodeProgram) bool { return np.UID == p.GetUID() }
		summary = programSummary(kind.Kind, p)
	}
	rows, err := nodePrograms(ctx, c, want)
	if err != nil {
		return err
	}
	if output.structured() {
		return printItems(w, output.value, rows)
	}
	if summary != "" {
		fmt.Fprintln(w, summary)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No node is asked to run a program.")
		return nil
	}
	printStatus(w, rows, output.value == "wide")
	return nil
}

// completePrograms completes KIND/NAME: the kinds from this binary, the
// names from the cluster.
func completePrograms(kube *kubeFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		const directive = cobra.ShellCompDirectiveNoFileComp
		if len(args) > 0 {
			return nil, directive
		}
		resource, _, ok := strings.Cut(toComplete, "/")
		if !ok {
			var kinds []cobra.Completion
			for _, k := range bpfleetv1.ProgramKinds {
				if s := strings.ToLower(k.Kind) + "/"; strings.HasPrefix(s, toComplete) {
					kinds = append(kinds, s)
				}
			}
			return kinds, directive | cobra.ShellCompDirectiveNoSpace
		}
		names, err := programNames(cmd.Context(), kube, resource)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, n := range names {
			if s := resource + "/" + n; strings.HasPrefix(s, toComplete) {
				out = append(out, s)
			}
		}
		return out, directive
	}
}

// programNames lists the names of the programs of a kind (in the
// namespace, for a namespaced kind).
func programNames(ctx context.Context, kube *kubeFlags, resource string) ([]string, error) {
	c, err := kube.connect()
	if err != nil {
		return nil, err
	}
	kind, err := c.programKind(ctx, resource)
	if err != nil {
		return nil, err
	}
	list := kind.NewList()
	var opts []client.ListOption
	if kind.Namespaced {
		opts = append(opts, client.InNamespace(c.namespace))
	}
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			names = append(names, m.GetName())
		}
	}
	return names, nil
}

// program reads the program KIND/NAME names.
func (c *cluster) program(ctx context.Context, arg string) (bpfleetv1.ProgramKind, bpfleetv1.Program, error) {
	resource, name, ok := strings.Cut(arg, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return bpfleetv1.ProgramKind{}, nil, fmt.Errorf("%w: %q: want KIND/NAME, e.g. tracepointprogram/opens", errUsage, arg)
	}
	kind, err := c.programKind(ctx, resource)
	if err != nil {
		return kind, nil, err
	}
	p := kind.New()
	key := client.ObjectKey{Name: name}
	if kind.Namespaced {
		key.Namespace = c.namespace
	}
	if err := c.Get(ctx, key, p); err != nil {
		if apierrors.IsNotFound(err) {
			return kind, nil, fmt.Errorf("%w: %w", errNoProgram, err)
		}
		return kind, nil, err
	}
	return kind, p, nil
}

// programSummary is the program's own status on one line: its Ready
// condition and its node counts.
func programSummary(kind string, p bpfleetv1.Program) string {
	st := p.ProgramStatus()
	ready := "Ready: Unknown"
	if c := meta.FindStatusCondition(st.Conditions, bpfleetv1.ConditionReady); c != nil {
		ready = fmt.Sprintf("Ready: %s (%s)", c.Status, c.Reason)
	}
	n := st.Nodes
	line := fmt.Sprintf("%s  %s  generation %d  nodes: %d selected, %d ready, %d failed, %d unsupported",
		programName(kind, p.GetNamespace(), p.GetName()), ready, p.GetGeneration(), n.Selected, n.Ready, n.Failed, n.Unsupported)
	return line + rolloutSummary(st.Rollout)
}

// rolloutSummary says where a change under way stands ("" when the
// latest generation runs everywhere).
func rolloutSummary(ro *bpfleetv1.RolloutStatus) string {
	if ro == nil || ro.Generation == ro.StableGeneration {
		return ""
	}
	s := fmt.Sprintf("\nrollout: generation %d released to %s", ro.Generation, cmp.Or(string(ro.Released), string(bpfleetv1.ReleaseNone)))
	if ro.Halted {
		s += ", halted (it failed on a node)"
	}
	if ro.StableGeneration != 0 {
		s += fmt.Sprintf("; the other nodes run generation %d (ControllerRevision %s)", ro.StableGeneration, ro.StableRevision)
	}
	return s
}

// nodePrograms joins every node's set and report into one row per program
// the node is asked to run (want nil: every program), or still reports.
func nodePrograms(ctx context.Context, c *cluster, want func(*bpfleetv1.NodeProgram) bool) ([]nodeProgram, error) {
	sets, reports, err := c.setsAndReports(ctx)
	if err != nil {
		return nil, err
	}
	byNode := map[string]*bpfleetv1.NodeProgramReport{}
	for i := range reports.Items {
		byNode[reports.Items[i].Name] = &reports.Items[i]
	}
	var rows []nodeProgram
	for i := range sets.Items {
		set := &sets.Items[i]
		rows = append(rows, nodeRows(set, byNode[set.Name], want)...)
	}
	slices.SortFunc(rows, func(a, b nodeProgram) int {
		return strings.Compare(a.Kind+"/"+a.Namespace+"/"+a.Name+"/"+a.Node, b.Kind+"/"+b.Namespace+"/"+b.Name+"/"+b.Node)
	})
	return rows, nil
}

// nodeRows are the rows of one node: its set's programs (and withheld
// ones) with what its report says of each, and the programs it reports
// and is no longer asked to run (unloading).
func nodeRows(set *bpfleetv1.NodeProgramSet, report *bpfleetv1.NodeProgramReport, want func(*bpfleetv1.NodeProgram) bool) []nodeProgram {
	reported := map[types.UID]*bpfleetv1.NodeProgramStatus{}
	if report != nil {
		for i := range report.Status.Programs {
			reported[report.Status.Programs[i].UID] = &report.Status.Programs[i]
		}
	}
	var rows []nodeProgram
	asked := make(map[types.UID]bool, len(set.Spec.Programs))
	for i := range set.Spec.Programs {
		np := &set.Spec.Programs[i]
		asked[np.UID] = true
		if want != nil && !want(np) {
			continue
		}
		row := nodeProgram{Node: set.Name, Kind: np.Kind, Namespace: np.Namespace, Name: np.Name, UID: np.UID,
			Generation: np.Generation, Image: np.Image, Path: np.Path, State: bpfleetv1.StatePending,
			Message: "the node's agent has not reported it yet"}
		if st := reported[np.UID]; st != nil {
			row.report(st)
		}
		rows = append(rows, row)
	}
	for uid, st := range reported { // no longer asked for: unloading
		if !asked[uid] && (want == nil || want(&bpfleetv1.NodeProgram{UID: uid})) {
			row := nodeProgram{Node: set.Name, Name: string(uid), UID: uid, Generation: st.Generation}
			row.report(st)
			rows = append(rows, row)
		}
	}
	for _, wp := range set.Spec.Withheld {
		if want != nil && !want(&bpfleetv1.NodeProgram{UID: wp.UID}) {
			continue
		}
		rows = append(rows, nodeProgram{Node: set.Name, Kind: wp.Kind, Namespace: wp.Namespace, Name: wp.Name, UID: wp.UID,
			State: bpfleetv1.StatePending, Reason: bpfleetv1.ReasonNodeSpecTooLarge,
			Message: "withheld: the node's set would be larger than the API server stores"})
	}
	return rows
}

// report fills in what the node's report says.
func (r *nodeProgram) report(st *bpfleetv1.NodeProgramStatus) {
	r.Reported, r.State, r.Reason, r.Message = st.Generation, st.State, st.Reason, st.Message
	r.ProgramID, r.Programs, r.Pods, r.PinPath, r.RunStats = st.ProgramID, st.Programs, st.Pods, st.PinPath, st.RunStats
	r.Links, r.Maps = st.Objects.Links, st.Objects.MapIDs
}

func printStatus(w io.Writer, rows []nodeProgram, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "NODE\tPROGRAM\tGEN\tSTATE\tPROGRAM IDS\tLINK IDS\tPODS\tRUNS\tDIGEST\tMESSAGE"
	if wide {
		header = "NODE\tPROGRAM\tGEN\tSTATE\tPROGRAM IDS\tLINKS\tPODS\tRUNS\tIMAGE\tPIN PATH\tMESSAGE"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		name := programName(r.Kind, r.Namespace, r.Name)
		gen := strconv.FormatInt(r.Generation, 10)
		if r.Reported != 0 && r.Reported != r.Generation {
			gen += fmt.Sprintf(" (reports %d)", r.Reported)
		}
		pods := "-"
		if r.Pods != nil {
			pods = fmt.Sprintf("%d/%d", r.Pods.Attached, r.Pods.Matched)
		}
		msg := r.Message
		if r.State == bpfleetv1.StateReady {
			msg = ""
		}
		if r.Reason != "" && msg != "" {
			msg = r.Reason + ": " + msg
		}
		if wide {
			image := orDash(r.Image + r.Path)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Node, name, gen, r.State, r.programIDs(),
				r.links(true), pods, r.runs(), image, orDash(r.PinPath), oneLine(msg, 0))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Node, name, gen, r.State, r.programIDs(),
			r.links(false), pods, r.runs(), orDash(imageDigest(r.Image)), oneLine(msg, 80))
	}
	tw.Flush()
}

// programName is how a table names a program: kind/name, or
// kind/namespace/name; uid/UID for one the node reports and is no longer
// asked to run (its set says no more of it).
func programName(kind, namespace, name string) string {
	if kind == "" {
		return "uid/" + name
	}
	if namespace != "" {
		return strings.ToLower(kind) + "/" + namespace + "/" + name
	}
	return strings.ToLower(kind) + "/" + name
}

// programIDs are the kernel program IDs: one, or an application's by
// program name.
func (r *nodeProgram) programIDs() string {
	if r.ProgramID != 0 {
		return strconv.FormatUint(uint64(r.ProgramID), 10)
	}
	var ids []string
	for _, p := range r.Programs {
		if p.ProgramID != 0 {
			ids = append(ids, fmt.Sprintf("%s=%d", p.Name, p.ProgramID))
		}
	}
	return orDash(strings.Join(ids, ","))
}

// links are the link IDs (an application's programs' too), with their
// targets when withTargets.
func (r *nodeProgram) links(withTargets bool) string {
	all := slices.Clone(r.Links)
	for _, p := range r.Programs {
		all = append(all, p.Links...)
	}
	var out []string
	for _, l := range all {
		if withTargets {
			out = append(out, fmt.Sprintf("%s=%d", l.Target, l.LinkID))
		} else {
			out = append(out, strconv.FormatUint(uint64(l.LinkID), 10))
		}
	}
	const most = 6
	if !withTargets && len(out) > most {
		out = append(out[:most], fmt.Sprintf("+%d", len(out)-most))
	}
	return orDash(strings.Join(out, ","))
}

// runs says how often the program ran (an application's programs in
// all) and for how long on average, as the agent last read it: "-" for a
// program that does not ask for run statistics.
func (r *nodeProgram) runs() string {
	all := []*bpfleetv1.RunStats{r.RunStats}
	for _, p := range r.Programs {
		all = append(all, p.RunStats)
	}
	var count, ns uint64
	seen := false
	for _, st := range all {
		if st != nil {
			seen, count, ns = true, count+st.RunCount, ns+st.RunTimeNs
		}
	}
	if !seen {
		return "-"
	}
	if count == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%v avg)", count, time.Duration(ns/count))
}

// imageDigest is the short digest of an image reference by digest.
func imageDigest(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return shortDigest(d)
	}
	return ""
}

// oneLine is s's first line, cut to at most n runes (0: not cut).
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); n > 0 && len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return orDash(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
