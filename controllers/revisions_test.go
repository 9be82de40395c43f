package controllers_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
)

// rollOut plays the agents of nodes until p's current generation is its
// stable one: each node reports it ready once its set asks for it. It
// returns p as it is then.
func rollOut(t *testing.T, p *bpfleetv1.TracepointProgram, nodes ...string) *bpfleetv1.TracepointProgram {
	t.Helper()
	reported := map[string]bool{}
	eventually(t, p.Name+" stable at its generation", func() (bool, error) {
		for _, node := range nodes {
			s, err := getSet(node)
			if err != nil {
				return false, err
			}
			for _, np := range s.Spec.Programs {
				if np.UID == p.UID && np.Generation == p.Generation && !reported[node] {
					report(t, node, p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
					reported[node] = true
				}
			}
		}
		p = getProgram(t, p.Name)
		ro := p.Status.Rollout
		return ro != nil && ro.StableGeneration == p.Generation && ro.Generation == p.Generation, nil
	})
	return p
}

// setGlobal changes p's spec (a new generation) by a global value.
func setGlobal(t *testing.T, p *bpfleetv1.TracepointProgram, value string) *bpfleetv1.TracepointProgram {
	t.Helper()
	base := p.DeepCopy()
	p.Spec.GlobalData = map[string]bpfleetv1.GlobalValue{"increment": bpfleetv1.GlobalValue(value)}
	if err := k8s.Patch(context.Background(), p, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	return p
}

// revisionsOf lists p's ControllerRevisions in the operator's namespace.
func revisionsOf(t *testing.T, p *bpfleetv1.TracepointProgram) []appsv1.ControllerRevision {
	t.Helper()
	var list appsv1.ControllerRevisionList
	if err := k8s.List(context.Background(), &list, client.InNamespace(controlplane.Namespace),
		client.MatchingLabels{bpfleetv1.ProgramUIDLabel: string(p.UID)}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// The stable generation's node entry is kept in a ControllerRevision owned
// by the program, in the operator's namespace for a cluster-scoped
// program, not in its status; a newer stable generation replaces it, and
// a node that joins while a change is halted gets it from there.
func TestStableGenerationKeptInARevision(t *testing.T) {
	nodes := []string{"stable-rev-a", "stable-rev-b"}
	p := scheduledOn(t, "stable-rev", nodes...)
	p = rollOut(t, p, nodes...)
	first := p.Status.Rollout.StableRevision
	var rev appsv1.ControllerRevision
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: controlplane.Namespace, Name: first}, &rev); err != nil {
		t.Fatalf("the revision the status names, %s: %v", first, err)
	}
	owner := rev.OwnerReferences
	if len(owner) != 1 || owner[0].UID != p.UID || owner[0].Kind != "TracepointProgram" || owner[0].Controller == nil || !*owner[0].Controller {
		t.Errorf("revision owned by %+v, want the program as its controller", owner)
	}
	var entry bpfleetv1.NodeProgram
	if err := json.Unmarshal(rev.Data.Raw, &entry); err != nil || rev.Revision != 1 || entry.UID != p.UID || entry.Generation != 1 || entry.ProgramName != "count_openat" {
		t.Errorf("revision %d holds %+v (%v), want generation 1's node entry", rev.Revision, entry, err)
	}

	p = rollOut(t, setGlobal(t, p, "2"), nodes...)
	eventually(t, "the older revision deleted", func() (bool, error) {
		revs := revisionsOf(t, p)
		return len(revs) == 1 && revs[0].Name == p.Status.Rollout.StableRevision && revs[0].Revision == 2, nil
	})
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: controlplane.Namespace, Name: first}, &rev); !apierrors.IsNotFound(err) {
		t.Errorf("generation 1's revision %s: %v, want it gone", first, err)
	}

	// Generation 3 fails on the first node it reaches: halted there. A
	// node that joins then gets generation 2, from its revision.
	p = setGlobal(t, p, "3")
	var failing string
	eventually(t, "generation 3 on a node", func() (bool, error) {
		for _, node := range nodes {
			if askedOf(node, p) == 3 {
				failing = node
				return true, nil
			}
		}
		return false, nil
	})
	report(t, failing, p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonVerifierRejected,
		Message: "invalid mem access", Terminal: true})
	eventually(t, "halted", func() (bool, error) {
		ro := getProgram(t, p.Name).Status.Rollout
		return ro != nil && ro.Generation == 3 && ro.Halted, nil
	})
	createNode(t, "stable-rev-late", p.Spec.NodeSelector.MatchLabels)
	late := waitAskedEntry(t, "stable-rev-late", p, 2)
	if late.GlobalData["increment"] != "2" {
		t.Errorf("the late node got %+v, want generation 2's entry", late)
	}
}

// askedOf is the generation of p node's set asks for (0: none).
func askedOf(node string, p *bpfleetv1.TracepointProgram) int64 {
	s, err := getSet(node)
	if err != nil {
		return 0
	}
	for _, np := range s.Spec.Programs {
		if np.UID == p.UID {
			return np.Generation
		}
	}
	return 0
}

// waitAskedEntry waits until node's set asks for generation gen of p and
// returns its entry.
func waitAskedEntry(t *testing.T, node string, p *bpfleetv1.TracepointProgram, gen int64) bpfleetv1.NodeProgram {
	t.Helper()
	var got bpfleetv1.NodeProgram
	eventually(t, node+" asked generation", func() (bool, error) {
		s, err := getSet(node)
		if err != nil {
			return false, client.IgnoreNotFound(err)
		}
		for _, np := range s.Spec.Programs {
			if np.UID == p.UID && np.Generation == gen {
				got = np
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// kubectl describe shows where a rollout stands in a few plain lines:
// no sentinel integers, no rank, no copy of a node entry; the counts per
// generation stay.
func TestDescribeShowsARolloutPlainly(t *testing.T) {
	nodes := []string{"describe-a", "describe-b", "describe-c"}
	p := rollOut(t, scheduledOn(t, "describe", nodes...), nodes...)
	p = rollOut(t, setGlobal(t, p, "2"), nodes...)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := plane.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	out, err := plane.Kubectl(kubeconfig, "describe", "tracepointprogram", p.Name)
	if err != nil {
		t.Fatalf("kubectl describe: %v\n%s", err, out)
	}
	for _, unwanted := range []string{"Rank", "4294967295", "Stable:", `{"`, `"uid"`} {
		if strings.Contains(out, unwanted) {
			t.Errorf("kubectl describe shows %q:\n%s", unwanted, out)
		}
	}
	for _, wanted := range []string{`Rollout:`, `Generations:`, `Updated:\s+3`, `Ready:\s+3`, `Released:\s+All`, `Stable Generation:\s+2`, `Stable Revision:\s+tracepointprogram-describe-`} {
		if !regexp.MustCompile(wanted).MatchString(out) {
			t.Errorf("kubectl describe lacks %q:\n%s", wanted, out)
		}
	}
	t.Logf("kubectl describe:\n%s", out)
}
