package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// nodeView is one node as nodes prints it: its agent, its kernel and
// what it runs.
type nodeView struct {
	Node string `json:"node"`
	// Agent is Alive (it renewed its Lease within the Lease's duration),
	// Silent (it did not), NotReady (its report says so) or Unknown (no
	// Lease the caller may read).
	Agent string `json:"agent"`
	// AgentMessage says why an agent is not Ready.
	AgentMessage string `json:"agentMessage,omitempty"`
	// LastRenew is when the agent last renewed its Lease.
	LastRenew *metav1.Time `json:"lastRenew,omitempty"`
	// LastSync is when the agent last changed its report.
	LastSync     *metav1.Time                `json:"lastSync,omitempty"`
	Capabilities *bpfleetv1.NodeCapabilities `json:"capabilities,omitempty"`
	// Programs the node is asked to run, and of them Ready and Failed.
	Programs int `json:"programs"`
	Ready    int `json:"ready"`
	Failed   int `json:"failed"`
}

func newNodesCmd(kube *kubeFlags, st streams) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "Show each node's agent, kernel, hooks and programs",
		Long: `Show each node bpfleet schedules to: whether its agent is alive and ready,
its kernel release and BTF, the hooks programs can attach to there (and
why not, for those they cannot), and how many programs it runs. It reads
the API only: the nodes' NodeProgramSets and NodeProgramReports, and the
agents' Leases where the caller may list them.`,
		Example: `  kubectl bpfleet nodes
  kubectl bpfleet nodes -o wide
  kubectl bpfleet nodes -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := kube.connect()
			if err != nil {
				return err
			}
			nodes, err := nodeViews(cmd.Context(), c, time.Now())
			if err != nil {
				return err
			}
			if output.structured() {
				return printItems(st.stdout, output.value, nodes)
			}
			printNodes(st.stdout, nodes, output.value == "wide")
			return nil
		},
	}
	kube.bind(cmd.Flags())
	output = addOutputFlag(cmd, "output format: table, wide (why hooks are missing), json or yaml", "table", "wide", "json", "yaml")
	return cmd
}

// nodeViews reads every node's set, report and Lease.
func nodeViews(ctx context.Context, c *cluster, now time.Time) ([]nodeView, error) {
	sets, reports, err := c.setsAndReports(ctx)
	if err != nil {
		return nil, err
	}
	leases, err := agentLeases(ctx, c)
	if err != nil {
		return nil, err
	}
	views := map[string]*nodeView{}
	for i := range sets.Items {
		set := &sets.Items[i]
		views[set.Name] = &nodeView{Node: set.Name, Agent: agentUnknown, Programs: len(set.Spec.Programs) + len(set.Spec.Withheld)}
	}
	for i := range reports.Items {
		r := &reports.Items[i]
		v := views[r.Name]
		if v == nil {
			v = &nodeView{Node: r.Name, Agent: agentUnknown}
			views[r.Name] = v
		}
		v.fromReport(r)
	}
	out := make([]nodeView, 0, len(views))
	for _, v := range views {
		if l := leases[v.Node]; l != nil {
			v.fromLease(l, now)
		}
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b nodeView) int { return strings.Compare(a.Node, b.Node) })
	return out, nil
}

// agentLeases are the agents' Leases by node; none where the caller may
// not list Leases (the report then says what it can).
func agentLeases(ctx context.Context, c *cluster) (map[string]*coordinationv1.Lease, error) {
	var leases coordinationv1.LeaseList
	err := c.List(ctx, &leases, client.HasLabels{bpfleetv1.AgentLeaseLabel})
	if apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the agents' Leases: %w", err)
	}
	out := map[string]*coordinationv1.Lease{}
	for i := range leases.Items {
		out[leases.Items[i].Labels[bpfleetv1.AgentLeaseLabel]] = &leases.Items[i]
	}
	return out, nil
}

func (v *nodeView) fromReport(r *bpfleetv1.NodeProgramReport) {
	v.LastSync, v.Capabilities = r.Status.LastSync, r.Status.Capabilities
	if c := meta.FindStatusCondition(r.Status.Conditions, bpfleetv1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
		v.Agent, v.AgentMessage = "NotReady", c.Message
	}
	for _, p := range r.Status.Programs {
		switch p.State {
		case bpfleetv1.StateReady:
			v.Ready++
		case bpfleetv1.StateFailed:
			v.Failed++
		}
	}
}

// agentUnknown is an agent whose Lease the caller cannot read.
const agentUnknown = "Unknown"

// fromLease says whether the agent is alive: it renewed its Lease within
// the Lease's duration. A report saying NotReady stands.
func (v *nodeView) fromLease(l *coordinationv1.Lease, now time.Time) {
	if l.Spec.RenewTime == nil {
		return
	}
	v.LastRenew = &metav1.Time{Time: l.Spec.RenewTime.Time}
	within := time.Minute
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
		within = time.Duration(*d) * time.Second
	}
	switch {
	case now.Sub(l.Spec.RenewTime.Time) > within:
		v.Agent = "Silent"
		v.AgentMessage = fmt.Sprintf("the agent last renewed its Lease %s ago", duration.HumanDuration(now.Sub(l.Spec.RenewTime.Time)))
	case v.Agent == agentUnknown:
		v.Agent = "Alive"
	}
}

func printNodes(w io.Writer, nodes []nodeView, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "NODE\tAGENT\tKERNEL\tBTF\tPROGRAMS\tFAILED\tHOOKS\tMISSING"
	if wide {
		header += "\tWHY MISSING\tAGENT MESSAGE"
	}
	fmt.Fprintln(tw, header)
	for _, v := range nodes {
		kernel, btf := "-", "-"
		var hooks, missing, why []string
		if c := v.Capabilities; c != nil {
			kernel, btf = orDash(c.KernelRelease), fmt.Sprint(c.BTF)
			for _, h := range c.Hooks {
				if h.Supported {
					hooks = append(hooks, h.Name)
				} else {
					missing = append(missing, h.Name)
					why = append(why, h.Name+": "+h.Reason)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%s", v.Node, v.Agent, kernel, btf, v.Ready, v.Programs, v.Failed,
			orDash(strings.Join(hooks, ",")), orDash(strings.Join(missing, ",")))
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s", orDash(strings.Join(why, "; ")), oneLine(v.AgentMessage, 0))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
