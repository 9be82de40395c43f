package nodesync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// plan is where an entry's programs attach on this node.
type plan struct {
	programs []programs.Attachment
	// missing names selected targets absent for now, of every program.
	missing []string
	// skipped are the optional programs whose hook this kernel lacks, by
	// name, with the reason.
	skipped map[string]string
	// waiting are the optional programs not running yet whose hook's
	// probe was inconclusive, by name, with the probe's error: they run
	// once a later pass's probe finds their hook.
	waiting map[string]string
	// pods says, by program and target key, which pod a target is in;
	// matched lists the pods the programs' selectors match, and
	// podFailures why one of them has no target, by pod.
	pods        map[string]map[string]attach.PodTarget
	matched     []string
	podFailures map[string]string
	// podScoped: a program of the entry picks its targets among pods.
	podScoped bool
}

// planEntry plans every program of np: the optional ones whose hook this
// kernel lacks (kernel, as probed) are skipped, a required one fails the
// entry as Unsupported, and the optional ones whose hook's probe was
// inconclusive wait, unless they run already (runs: in the running
// revision of np), which keep running; any other that does not plan
// fails the entry.
func planEntry(np *bpfleetv1.NodeProgram, kernel probe.Result, runs func(program string) bool, facts *attach.Facts) (plan, error) {
	defer facts.InNamespace(np.Namespace)()
	var pl plan
	for _, a := range np.Attachments() {
		hook, err := attach.Lookup(a.Attach.Hook)
		if err != nil {
			return pl, err
		}
		if why := kernel.Hooks[hook.Name()]; why != "" {
			if !a.Optional {
				// The probe's word, not a trial of the program: an order
				// naming a program the kernel cannot run would otherwise
				// wait for it for good.
				return pl, programError(np, a.Name, &failure.Unsupported{Missing: why})
			}
			pl.skip(a.Name, why)
			continue
		}
		if why, unknown := kernel.Unknown[hook.Name()]; unknown && a.Optional && !runs(a.Name) {
			pl.wait(a.Name, why)
			continue
		}
		if err := pl.add(np, a, hook, facts); err != nil {
			return pl, err
		}
	}
	return pl, pl.check()
}

// add plans program a of np on hook.
func (pl *plan) add(np *bpfleetv1.NodeProgram, a bpfleetv1.ProgramAttachment, hook attach.Hook, facts *attach.Facts) error {
	hp, err := hook.Plan(a.Attach, facts)
	if err != nil {
		return programError(np, a.Name, err)
	}
	key, err := hook.LinkKey(a.Attach)
	if err != nil {
		return programError(np, a.Name, err)
	}
	soft := make(map[string]bool, len(hp.Pods))
	for target := range hp.Pods {
		soft[target] = true
	}
	pl.programs = append(pl.programs, programs.Attachment{Name: a.Name, LinkKey: key, Attach: hp.Targets, Soft: soft})
	pl.missing = append(pl.missing, hp.Missing...)
	pl.addPods(a.Name, hp)
	return nil
}

// addPods records the pod targets of program name's plan hp.
func (pl *plan) addPods(name string, hp attach.Plan) {
	if !hp.PodScoped {
		return
	}
	pl.podScoped = true
	if pl.pods == nil {
		pl.pods, pl.podFailures = map[string]map[string]attach.PodTarget{}, map[string]string{}
	}
	pl.pods[name] = hp.Pods
	for _, pod := range hp.Matched {
		if !slices.Contains(pl.matched, pod) {
			pl.matched = append(pl.matched, pod)
		}
	}
	maps.Copy(pl.podFailures, hp.PodFailures)
}

// check fails a plan of no program: Unsupported where the node lacks
// every hook, waiting while a probe may still find one.
func (pl *plan) check() error {
	switch {
	case len(pl.programs) > 0:
		return nil
	case len(pl.waiting) > 0:
		return &failure.Wait{What: "no program can run until the probe of its hook succeeds: " + reasons(pl.waiting)}
	}
	return &failure.Unsupported{Missing: "none of its programs can run on this node: " + reasons(pl.skipped)}
}

// skip records that optional program name does not run here, and why.
func (pl *plan) skip(name, why string) {
	if pl.skipped == nil {
		pl.skipped = map[string]string{}
	}
	pl.skipped[name] = why
}

// wait records that optional program name waits for its hook's probe,
// and why.
func (pl *plan) wait(name, why string) {
	if pl.waiting == nil {
		pl.waiting = map[string]string{}
	}
	pl.waiting[name] = why
}

// reasons lists why each program does not run, by name.
func reasons(why map[string]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(why)) {
		parts = append(parts, name+": "+why[name])
	}
	return strings.Join(parts, "; ")
}

// programError names the program of an application whose hook failed to
// plan; a single kind's error stays as it was.
func programError(np *bpfleetv1.NodeProgram, name string, err error) error {
	if len(np.Programs) == 0 {
		return err
	}
	return fmt.Errorf("program %s: %w", name, err)
}

// programStatuses reports each program of application np: Ready with its
// kernel ID and links where it runs, Unsupported where the plan skipped
// it, Pending where it waits for its hook's probe. A single kind's entry
// has none (ProgramID and Objects say it all).
func programStatuses(np *bpfleetv1.NodeProgram, ld programs.Loaded, pl plan) []bpfleetv1.ProgramAttachmentStatus {
	if len(np.Programs) == 0 {
		return nil
	}
	out := make([]bpfleetv1.ProgramAttachmentStatus, 0, len(np.Programs))
	for _, a := range np.Programs {
		st := bpfleetv1.ProgramAttachmentStatus{Name: a.Name, State: bpfleetv1.StateReady}
		if why, ok := pl.skipped[a.Name]; ok {
			st.State, st.Message = bpfleetv1.StateUnsupported, "not run: this node lacks its hook: "+why
		}
		if why, ok := pl.waiting[a.Name]; ok {
			st.State, st.Message = bpfleetv1.StatePending, "waiting: the probe of its hook was inconclusive and is retried each pass: "+why
		}
		if lp, ok := ld.Programs[a.Name]; ok {
			st.ProgramID, st.Links = lp.ID, linkStatuses(lp.Links, pl.pods[a.Name])
		}
		out = append(out, st)
	}
	return out
}

// keptPrograms reports, for application np whose update did not apply
// (state), the programs of its revision that still run.
func keptPrograms(np *bpfleetv1.NodeProgram, ld programs.Loaded, state bpfleetv1.ProgramState) []bpfleetv1.ProgramAttachmentStatus {
	var out []bpfleetv1.ProgramAttachmentStatus
	for _, a := range np.Programs {
		if lp, ok := ld.Programs[a.Name]; ok {
			out = append(out, bpfleetv1.ProgramAttachmentStatus{Name: a.Name, State: state, ProgramID: lp.ID,
				Links: linkStatuses(lp.Links, nil), Message: "its previous revision still runs"})
		}
	}
	return out
}

// linkStatuses reports links, sorted by target; a target in a pod (pods,
// by key) is named by its pod.
func linkStatuses(links map[string]programs.LinkInfo, pods map[string]attach.PodTarget) []bpfleetv1.LinkStatus {
	out := make([]bpfleetv1.LinkStatus, 0, len(links))
	for _, key := range slices.Sorted(maps.Keys(links)) {
		out = append(out, bpfleetv1.LinkStatus{Target: podLinkTarget(pods, key), LinkID: links[key].ID, Detail: links[key].Detail})
	}
	return out
}

// single is the program of ld, the revision of np, as a single program
// kind's status reports it; none (the zero LoadedProgram) for an
// application, whose programs report each their own.
func single(np *bpfleetv1.NodeProgram, ld programs.Loaded) programs.LoadedProgram {
	if len(np.Programs) > 0 {
		return programs.LoadedProgram{}
	}
	return sole(ld)
}

// sole is the one program of ld; none (the zero LoadedProgram) for an
// application of several.
func sole(ld programs.Loaded) programs.LoadedProgram {
	if len(ld.Programs) != 1 {
		return programs.LoadedProgram{}
	}
	for _, lp := range ld.Programs {
		return lp
	}
	return programs.LoadedProgram{}
}
