package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/internal/controlplane"
)

// step is one occurrence of a fault point in the scenario: "<point>#<n>",
// as faultpoint.Env takes it, and the phase it falls in.
type step struct{ phase, at string }

// The agent is SIGKILLed at every step of its apply path that the
// scenario passes (load, pin, attach, link update, swap, publish, unpin
// of old revisions, MapPolicy map and ledger writes, entries removed), in
// turn; started again, it must bring the node to exactly what the spec
// says: programs Ready, one revision each, pinned whole, the reported IDs
// in the kernel, no staging directory, pin or link left over, the
// blocklist's entries there.
func TestKillAtEveryStep(t *testing.T) {
	s := start(t)
	steps := census(t, s)
	checkEveryPointPassed(t, steps)
	var killed []step
	for _, st := range steps {
		t.Run(st.phase+"/"+st.at, func(t *testing.T) {
			if killAt(t, s, st) && !t.Failed() {
				killed = append(killed, st)
			}
		})
	}
	checkEveryPointKilled(t, steps, killed)
	t.Logf("faults injected: %d of %d steps killed and healed: %v", len(killed), len(steps), killed)
}

// checkEveryPointKilled fails unless every point the census passed was
// killed and healed at least once. The census is one run: a later
// occurrence of a point (a second removal pass, say) may not come again
// when passes fall otherwise.
func checkEveryPointKilled(t *testing.T, steps, killed []step) {
	for _, st := range steps {
		name, _, _ := strings.Cut(st.at, "#")
		if !slices.ContainsFunc(killed, func(k step) bool { return strings.HasPrefix(k.at, name+"#") }) {
			t.Errorf("no kill at %s healed", name)
		}
	}
}

// census runs the scenario once with no fault, checking every phase, and
// returns the steps the agent passed, each occurrence of a point apart.
func census(t *testing.T, s *suite) []step {
	var steps []step
	t.Run("no fault", func(t *testing.T) {
		h := newHost(t, s)
		h.trace = filepath.Join(t.TempDir(), "trace")
		sc := newScenario(t, h)
		h.start("")
		seen := map[string]int{}
		for _, p := range phases {
			before := traced(t, h.trace)
			p.do(sc)
			h.settle(p.name, func(ctx context.Context) bool { return sc.done(ctx, p.want) })
			sc.check(p.want)
			for _, name := range traced(t, h.trace)[len(before):] {
				seen[name]++
				steps = append(steps, step{p.name, fmt.Sprintf("%s#%d", name, seen[name])})
			}
		}
	})
	if len(steps) == 0 {
		t.Fatal("the scenario passed no fault point")
	}
	return steps
}

func traced(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// killAt runs the scenario with the agent to be killed at st, starts it
// again, and checks the phase it died in. It reports whether the agent
// reached st: a later occurrence of a point the census saw may not come
// again in this run (it says so); the scenario is then checked whole.
func killAt(t *testing.T, s *suite, st step) bool {
	h := newHost(t, s)
	sc := newScenario(t, h)
	h.start(st.at)
	for _, p := range phases {
		p.do(sc)
		if !h.await(p.name, func(ctx context.Context) bool { return sc.done(ctx, p.want) }) {
			sc.check(p.want)
			continue
		}
		if p.name != st.phase {
			t.Errorf("killed in phase %s; the census passed %s in phase %s", p.name, st.at, st.phase)
		}
		h.start("")
		h.settle(p.name+" after the restart", func(ctx context.Context) bool { return sc.done(ctx, p.want) })
		sc.check(p.want)
		return true
	}
	t.Logf("the agent passed every phase without reaching %s: this run's passes fell otherwise than the census's", st.at)
	return false
}

var pointCall = regexp.MustCompile(`faultpoint\.Point\("([^"]+)"\)`)

// checkEveryPointPassed fails if a fault point in the agent's code is
// not passed by the scenario: a point added must get its kill case.
func checkEveryPointPassed(t *testing.T, steps []step) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var missed []string
	err = filepath.WalkDir(filepath.Join(root, "bpfman-agent"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range pointCall.FindAllSubmatch(src, -1) {
			name := string(m[1])
			if !slices.ContainsFunc(steps, func(st step) bool { return strings.HasPrefix(st.at, name+"#") }) {
				missed = append(missed, name)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(missed) > 0 {
		t.Errorf("the scenario passes no step %v: extend it", missed)
	}
}
