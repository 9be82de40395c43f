package nodesync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/csi"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/mappolicy"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/bpfman-agent/pods"
	"github.com/bpfleet/bpfleet/bpfman-agent/probe"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// resync is how often the agent re-checks the kernel against its spec even
// when nothing in the API changed (a pin removed by hand, a link detached).
const resync = time.Minute

// Reconciler syncs the kernel with one node's NodeProgramSet.
type Reconciler struct {
	client.Client
	// APIReader reads the node's set when the cache has not seen it yet.
	APIReader client.Reader
	NodeName  string
	// LeaseNamespace holds the node's Lease, which follows its set.
	LeaseNamespace string
	Programs       *programs.Manager
	Images         *image.Fetcher
	// ImageCache is the store Images fetches through; after each pass
	// what the node's spec no longer uses is removed from it (nil: never).
	ImageCache *image.Store
	// StuckAfter is how long a pass may run before the agent's liveness
	// check fails (0: never; see livez).
	StuckAfter time.Duration
	// Kernel is what the node's kernel can do, as probed at start; the
	// hooks whose probe was inconclusive are probed again each pass.
	Kernel probe.Result
	// MapPolicies writes the node's MapPolicies into its maps.
	MapPolicies *mappolicy.Writer
	// RunStats publishes the run statistics of the programs that ask for
	// them; nil publishes none (the kernel still counts while asked).
	RunStats *metrics.RunStats

	// Volumes is the CSI driver mounting maps into pods (nil: none): each
	// pass ends with it following the programs' maps, and the report
	// lists its mounts.
	Volumes *csi.Driver
	// Pods lists the node's pods, for programs with pod targets (nil:
	// none is watched, and such programs wait).
	Pods *pods.Source

	// failed remembers terminal failures by program UID, at the revision
	// and targets that failed, so it is not reloaded until they change.
	failed map[types.UID]terminalFailure
	// stats holds the kernel's BPF run statistics on while a program asks;
	// runStats are those the report holds.
	stats    programs.Stats
	runStats runStatsReads
	// synced is set once a pass has compared the kernel with the spec and
	// reported: the agent's readiness.
	synced atomic.Bool
	// passStart is when the running pass started (Unix nanoseconds; 0
	// between passes), and setUID the UID of the node's set as last read:
	// what the agent's Lease says (see alive).
	passStart atomic.Int64
	setUID    atomic.Value
	// waits spaces the passes that retry what waits (see waitBackoff).
	waits waitBackoff
	// memory returns what a pass freed to the kernel.
	memory memoryRelease
	// written is what the agent last wrote in the node's report, held
	// the node's set as last read.
	written writtenReport
	held    heldSet
	// setCRD is the sets' CRD, whose deletion uninstalls the agent
	// (uninstalled); uninstalling is set once it is seen deleted, and
	// unloaded once a pass unloaded everything then.
	setCRD       string
	uninstalling atomic.Bool
	unloaded     atomic.Bool
	// pokes asks for a pass (see poke).
	pokes chan struct{}
}

type terminalFailure struct {
	revision string
	failure  failure.Failure
}

// +kubebuilder:rbac:groups=bpfleet.io,resources=nodeprogramsets,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=bpfleet.io,resources=nodeprogramreports,verbs=get;list;watch;create;patch;delete

// Reconcile runs one pass: apply the desired programs, prune the rest,
// report.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	r.passStart.Store(time.Now().UnixNano())
	defer r.passStart.Store(0)
	defer r.memory.afterPass()
	if r.uninstalling.Load() {
		return r.unloadAll(ctx)
	}
	set, err := r.ownSet(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	report := r.newReport()
	desired := unique(ctx, set.Spec.Programs)
	lost := r.checkPinRoot(ctx)
	statuses, objects, applyErr := r.applyAll(ctx, desired)
	markReloaded(statuses, lost)
	r.measure(ctx, desired, statuses)
	left, pruneErr := r.pruneUnwanted(set, desired)
	statuses = append(statuses, left...)
	r.followVolumes(ctx)
	r.fillMounts(statuses)
	metrics.RetainRejections(programRefs(desired))
	r.fill(report, set, statuses)
	if set.Spec.Scheduled { // else the Writer would forget what policies wrote
		var policyErr error
		report.Status.MapPolicies, policyErr = r.MapPolicies.Apply(ctx, set.Spec.MapPolicies, objects)
		applyErr = errors.Join(applyErr, policyErr)
	}
	writeErr := r.writeReport(ctx, report, set)
	// Collecting the image cache reads every manifest it holds: the
	// report does not wait for it.
	r.collectImages(ctx, set)
	if writeErr != nil {
		return ctrl.Result{}, errors.Join(applyErr, pruneErr, writeErr)
	}
	r.synced.Store(true)
	if err := errors.Join(applyErr, pruneErr); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.nextPass(set, statuses, report.Status.MapPolicies)}, nil
}

// ownSet gets this node's set, creating it empty when the operator has not
// yet, and remembers its UID for the Lease.
func (r *Reconciler) ownSet(ctx context.Context) (*bpfleetv1.NodeProgramSet, error) {
	set, err := r.held.get(ctx, r.Client, r.APIReader, r.NodeName)
	if err != nil {
		return nil, err
	}
	if prev, _ := r.setUID.Swap(set.UID).(types.UID); prev != "" && prev != set.UID && r.LeaseNamespace != "" {
		if err := nodereport.OwnLease(ctx, r.Client, r.LeaseNamespace, r.NodeName, set.UID); err != nil {
			// The next renewal gives it again.
			ctrl.LoggerFrom(ctx).Error(err, "give the Lease to the node's new set")
		}
	}
	return set, nil
}

// applyAll applies each desired program, and returns the objects of those
// that run (map policies need their BTF). The returned error joins the
// transient failures, so the pass is retried with backoff.
func (r *Reconciler) applyAll(ctx context.Context, desired []bpfleetv1.NodeProgram) ([]bpfleetv1.NodeProgramStatus, map[types.UID][]byte, error) {
	statuses := make([]bpfleetv1.NodeProgramStatus, len(desired))
	errs := make([]error, len(desired)+1)
	installed := sync.OnceValue(func() map[types.UID]programs.Loaded {
		loaded, err := r.Programs.Installed()
		errs[len(desired)] = err
		running := make(map[types.UID]programs.Loaded, len(loaded))
		for _, ld := range loaded {
			running[types.UID(ld.UID)] = ld
		}
		return running
	})
	ps := pass{facts: gatherFacts(desired, installed), objects: map[types.UID][]byte{}, fetched: newPassObjects(r.Images), installed: installed}
	ps.facts.SetPods(r.podSource(ctx))
	triedAt := make([]int, len(desired))
	for i := range desired {
		triedAt[i] = ps.facts.Added()
		statuses[i], errs[i] = r.applyOne(ctx, &desired[i], ps)
	}
	for r.retryWaiting(ctx, desired, statuses, errs, triedAt, ps) {
	}
	return statuses, ps.objects, errors.Join(errs...)
}

// applyOne applies np, reporting the revision of it that still runs where
// it is not Ready.
func (r *Reconciler) applyOne(ctx context.Context, np *bpfleetv1.NodeProgram, ps pass) (bpfleetv1.NodeProgramStatus, error) {
	st, err := r.apply(ctx, np, ps)
	if st.State != bpfleetv1.StateReady {
		st = keptRunning(np, st, ps.installed())
	}
	if err != nil {
		err = fmt.Errorf("%s %s: %w", np.Kind, np.Ref(), err)
	}
	return st, err
}

// retryWaiting applies again the desired programs that wait and may be
// ordered (a TCX or cgroup hook) when links were added since they were
// tried (triedAt: Facts.Added then): an order names another program's
// link, which may be there now, whichever the set lists first. It reports
// whether it retried any; the caller calls it again until it retries
// none, each round only after links were added, so no program is loaded
// twice for nothing.
func (r *Reconciler) retryWaiting(ctx context.Context, desired []bpfleetv1.NodeProgram, statuses []bpfleetv1.NodeProgramStatus, errs []error, triedAt []int, ps pass) bool {
	retried := false
	for i := range desired {
		if statuses[i].State != bpfleetv1.StatePending || triedAt[i] == ps.facts.Added() || !mayOrder(&desired[i]) {
			continue
		}
		triedAt[i], retried = ps.facts.Added(), true
		statuses[i], errs[i] = r.applyOne(ctx, &desired[i], ps)
	}
	return retried
}

// pass is what the programs of one pass share: the facts hooks plan
// from, the objects of those that run (by UID), the objects fetched, and
// the revisions installed (read once, when first needed).
type pass struct {
	facts     *attach.Facts
	objects   map[types.UID][]byte
	fetched   *passObjects
	installed func() map[types.UID]programs.Loaded
}

// apply makes one program run and says how it went. It returns an error
// only for a transient failure.
func (r *Reconciler) apply(ctx context.Context, np *bpfleetv1.NodeProgram, ps pass) (bpfleetv1.NodeProgramStatus, error) {
	st := bpfleetv1.NodeProgramStatus{UID: np.UID, Generation: np.Generation}
	if np.Invalid != "" {
		return r.failedStatus(st, "", &failure.Invalid{Err: errors.New(np.Invalid)})
	}
	p, pl, err := r.program(ctx, np, ps)
	if err != nil {
		return r.failedStatus(st, "", err)
	}
	attempt := attemptKey(p)
	if tf, ok := r.failed[np.UID]; ok && tf.revision == attempt {
		return withFailure(st, tf.failure), nil
	}
	loaded, err := r.Programs.Apply(ctx, p)
	if err != nil {
		metrics.CountLoad(np.Kind, np.Ref(), failure.Classify(err).Reason)
		if programs.Reason(err) == programs.ReasonMapFull {
			// The update is held and the running revision runs on: its
			// policies still write its maps, which may make the room the
			// update waits for.
			ps.objects[np.UID] = p.Object
		}
		return r.failedStatus(st, attempt, err)
	}
	if !loaded.Adopted {
		metrics.CountLoad(np.Kind, np.Ref(), "")
	}
	delete(r.failed, np.UID)
	ps.objects[np.UID] = p.Object
	addLinks(ps.facts, np, loaded)
	st.Pods = podTargets(pl, loaded)
	st.State, st.Message = bpfleetv1.StateReady, joinMessages(missingMessage(pl.missing), podMessage(st.Pods))
	st.ProgramID, st.PinPath, st.Objects = single(np, loaded).ID, loaded.PinDir, kernelObjects(np, loaded, pl.pods[np.ProgramName])
	st.Programs = programStatuses(np, loaded, pl)
	return st, nil
}

// keptRunning adds to the status of a program np that is not Ready the
// revision of it that still runs (an update held or failed, which leaves
// it running), so that status does not read as if it were gone.
func keptRunning(np *bpfleetv1.NodeProgram, st bpfleetv1.NodeProgramStatus, running map[types.UID]programs.Loaded) bpfleetv1.NodeProgramStatus {
	ld, ok := running[st.UID]
	if !ok {
		return st
	}
	st.ProgramID, st.PinPath, st.Objects = single(np, ld).ID, ld.PinDir, kernelObjects(np, ld, nil)
	if len(np.Programs) > 0 {
		st.Programs = keptPrograms(np, ld, st.State)
	}
	return st
}

// kernelObjects reports the links of ld, the revision of np, sorted by
// target (pods: its targets in pods, by key), and its maps; for an
// application, its maps only (each program reports its links: see
// programStatuses).
func kernelObjects(np *bpfleetv1.NodeProgram, ld programs.Loaded, pods map[string]attach.PodTarget) bpfleetv1.KernelObjects {
	return bpfleetv1.KernelObjects{Links: linkStatuses(single(np, ld).Links, pods), MapIDs: ld.Maps}
}

// joinMessages joins the non-empty messages with "; ".
func joinMessages(msgs ...string) string {
	return strings.Join(slices.DeleteFunc(msgs, func(m string) bool { return m == "" }), "; ")
}

// program fetches the object (once per pass: see passObjects) and plans
// what programs.Manager applies: every program of the entry but the
// optional ones whose hook this kernel lacks, or whose hook's probe was
// inconclusive and which do not run yet.
func (r *Reconciler) program(ctx context.Context, np *bpfleetv1.NodeProgram, ps pass) (programs.Program, plan, error) {
	object, err := ps.fetched.fetch(ctx, np)
	if err != nil {
		return programs.Program{}, plan{}, err
	}
	runs := func(program string) bool {
		_, ok := ps.installed()[np.UID].Programs[program]
		return ok
	}
	pl, err := planEntry(np, r.Kernel, runs, ps.facts)
	if err != nil {
		return programs.Program{}, pl, err
	}
	globals := make(map[string]string, len(np.GlobalData))
	for k, v := range np.GlobalData {
		globals[k] = string(v)
	}
	return programs.Program{
		UID: string(np.UID), Revision: revision(np, object, pl.programs), Object: object,
		GlobalData: globals, Programs: pl.programs, Maps: mapConfigs(np.Maps),
	}, pl, nil
}

// failedStatus records a failure; terminal ones are remembered at their
// revision and not returned as errors (retrying cannot help).
func (r *Reconciler) failedStatus(st bpfleetv1.NodeProgramStatus, rev string, err error) (bpfleetv1.NodeProgramStatus, error) {
	f := failure.Classify(err)
	if f.Transient() {
		return withFailure(st, f), err
	}
	if f.Terminal && rev != "" {
		if r.failed == nil {
			r.failed = map[types.UID]terminalFailure{}
		}
		r.failed[st.UID] = terminalFailure{revision: rev, failure: f}
	}
	return withFailure(st, f), nil
}

// attemptKey names what a terminal failure is remembered for: the revision
// and the targets present, so that a new interface is tried again.
func attemptKey(p programs.Program) string {
	key := p.Revision.String()
	for _, a := range p.Programs {
		key += "|" + a.Name + ":" + strings.Join(slices.Sorted(maps.Keys(a.Attach)), ",")
	}
	return key
}

func withFailure(st bpfleetv1.NodeProgramStatus, f failure.Failure) bpfleetv1.NodeProgramStatus {
	st.State, st.Reason, st.Message = f.State, f.Reason, f.Message
	st.Terminal, st.VerifierLog = f.Terminal, f.VerifierLog
	return st
}

// unique drops the second and later entries for one program: the list is
// atomic, so the API server does not keep its UIDs unique, and two entries
// for one program would take turns loading.
func unique(ctx context.Context, programs []bpfleetv1.NodeProgram) []bpfleetv1.NodeProgram {
	seen := make(map[types.UID]bool, len(programs))
	out := make([]bpfleetv1.NodeProgram, 0, len(programs))
	for _, np := range programs {
		if seen[np.UID] {
			ctrl.LoggerFrom(ctx).Info("ignoring a second spec entry for one program", "uid", np.UID, "program", np.Name)
			continue
		}
		seen[np.UID] = true
		out = append(out, np)
	}
	return out
}

// programRefs names the desired programs as metrics label them.
func programRefs(desired []bpfleetv1.NodeProgram) map[metrics.ProgramRef]bool {
	out := make(map[metrics.ProgramRef]bool, len(desired))
	for _, np := range desired {
		out[metrics.ProgramRef{Kind: np.Kind, Name: np.Ref()}] = true
	}
	return out
}

// prune detaches and unpins everything no desired program owns.
func (r *Reconciler) prune(desired []bpfleetv1.NodeProgram) error {
	keep := make(map[string]bool, len(desired))
	for _, np := range desired {
		keep[string(np.UID)] = true
	}
	for uid := range r.failed {
		if !keep[string(uid)] {
			delete(r.failed, uid)
		}
	}
	return r.Programs.Prune(keep)
}

// pruneUnwanted removes what no desired program owns, and reports what
// runs that the spec does not name: what a failed prune left, or, on a set
// the operator has not written (the agent made it anew after it was
// deleted), everything: such a set's empty lists say nothing, so nothing
// is unloaded until the operator writes it.
func (r *Reconciler) pruneUnwanted(set *bpfleetv1.NodeProgramSet, desired []bpfleetv1.NodeProgram) ([]bpfleetv1.NodeProgramStatus, error) {
	if !set.Spec.Scheduled {
		return r.leftRunning(desired, bpfleetv1.StateReady, bpfleetv1.ReasonNotScheduled,
			"kept running: the node's set has not been written by the operator since it was made anew"), nil
	}
	if unnamed(desired) {
		return r.leftRunning(desired, bpfleetv1.StateReady, bpfleetv1.ReasonInvalidSpec,
			"kept running: an entry of the node's set names no program UID (edited by hand?)"), nil
	}
	if err := r.prune(desired); err != nil {
		return r.leftRunning(desired, bpfleetv1.StateUnloading, bpfleetv1.ReasonUnloadFailed, err.Error()), err
	}
	return nil, nil
}

// unnamed reports whether an entry of desired has no UID (an entry that
// did not decode): the program it was may be one that runs.
func unnamed(desired []bpfleetv1.NodeProgram) bool {
	return slices.ContainsFunc(desired, func(np bpfleetv1.NodeProgram) bool { return np.UID == "" })
}

// leftRunning reports the programs still pinned that the spec does not
// name, so the operator does not release them while they run. The pins
// say which.
func (r *Reconciler) leftRunning(desired []bpfleetv1.NodeProgram, state bpfleetv1.ProgramState, reason, msg string) []bpfleetv1.NodeProgramStatus {
	want := map[string]bool{}
	for _, np := range desired {
		want[string(np.UID)] = true
	}
	installed, err := r.Programs.Installed()
	if err != nil {
		msg += "; listing the pins: " + err.Error()
	}
	var out []bpfleetv1.NodeProgramStatus
	for _, ld := range installed {
		if !want[ld.UID] {
			out = append(out, bpfleetv1.NodeProgramStatus{
				UID: types.UID(ld.UID), State: state, ProgramID: sole(ld).ID, PinPath: ld.PinDir,
				Reason: reason, Message: msg,
			})
		}
	}
	return out
}

// readyz is the agent's readiness check: ready once a pass has reported.
func (r *Reconciler) readyz(*http.Request) error {
	if !r.synced.Load() {
		return errors.New("no sync pass has reported yet")
	}
	return nil
}

// mapConfigs are the map settings MapPolicies give the program.
func mapConfigs(configs []bpfleetv1.MapConfig) map[string]programs.MapConfig {
	out := make(map[string]programs.MapConfig, len(configs))
	for _, c := range configs {
		out[c.Name] = programs.MapConfig{MaxEntries: uint32(c.MaxEntries), Shared: c.Shared}
	}
	return out
}
