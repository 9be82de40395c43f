package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A tracer shows where the time of one change goes: it watches the
// TracepointPrograms and the test node's set and report, and records when
// each step of the change (traceStep) first reaches a watcher, from the
// change's start. The benchmarks report each step's median.
type tracer struct {
	steps []traceStep

	mu sync.Mutex
	// name and gen are the program and generation traced; start is when
	// the change began (zero: nothing traced).
	name  string
	gen   int64
	start time.Time
	// uid is the traced program's, once an event of it was seen (a
	// report names programs by UID only).
	uid types.UID
	// at holds when each step was first seen in this change, writes the
	// writes of each watched object seen in it.
	at     map[string]time.Duration
	writes map[string]int
	// all holds each step's times and each object's writes, per change.
	all       map[string][]time.Duration
	allWrites map[string][]int
	// writes1 holds the round trips of one bare API write, a baseline
	// measured between changes (see writeOnce).
	writes1 []time.Duration
}

// traceStep is one step of a change: the first event of object (program,
// set or report) for which ok holds.
type traceStep struct {
	name   string
	object string
	ok     func(o client.Object, name string, uid types.UID, gen int64) bool
}

// The steps of a change, as watchers see them.
var (
	stepFinalizer = traceStep{"finalizer", "program", func(o client.Object, _ string, _ types.UID, _ int64) bool {
		return controllerutil.ContainsFinalizer(o, bpfleetv1.Finalizer)
	}}
	stepDigest = traceStep{"digest", "program", func(o client.Object, _ string, _ types.UID, _ int64) bool {
		st := o.(*bpfleetv1.TracepointProgram).Status
		return st.Image != nil && st.Image.Digest != ""
	}}
	stepSet = traceStep{"set", "set", func(o client.Object, name string, _ types.UID, gen int64) bool {
		return slices.ContainsFunc(o.(*bpfleetv1.NodeProgramSet).Spec.Programs, func(np bpfleetv1.NodeProgram) bool {
			return np.Name == name && np.Generation == gen
		})
	}}
	stepReport = traceStep{"report", "report", func(o client.Object, _ string, uid types.UID, gen int64) bool {
		return slices.ContainsFunc(o.(*bpfleetv1.NodeProgramReport).Status.Programs, func(st bpfleetv1.NodeProgramStatus) bool {
			return st.UID == uid && st.Generation == gen && st.State == bpfleetv1.StateReady
		})
	}}
	stepReady = traceStep{"status", "program", func(o client.Object, _ string, _ types.UID, gen int64) bool {
		p := o.(*bpfleetv1.TracepointProgram)
		return p.Status.ObservedGeneration == gen && meta.IsStatusConditionTrue(p.Status.Conditions, bpfleetv1.ConditionReady)
	}}
)

// traceChanges starts a tracer of steps until the benchmark ends.
func traceChanges(b *testing.B, c client.WithWatch, steps ...traceStep) *tracer {
	b.Helper()
	t := &tracer{steps: steps, all: map[string][]time.Duration{}, allWrites: map[string][]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	var ready sync.WaitGroup
	for object, list := range map[string]client.ObjectList{
		"program": &bpfleetv1.TracepointProgramList{},
		"set":     &bpfleetv1.NodeProgramSetList{},
		"report":  &bpfleetv1.NodeProgramReportList{},
	} {
		opts := []client.ListOption{}
		if object != "program" {
			opts = append(opts, client.MatchingFields{"metadata.name": node})
		}
		ready.Add(1)
		go t.watch(ctx, b, c, object, list, opts, &ready)
	}
	ready.Wait()
	return t
}

// watch feeds object's events to the tracer until ctx ends, watching
// again whenever the API server ends a watch.
func (t *tracer) watch(ctx context.Context, b *testing.B, c client.WithWatch, object string, list client.ObjectList, opts []client.ListOption, ready *sync.WaitGroup) {
	for first := true; ctx.Err() == nil; first = false {
		w, err := c.Watch(ctx, list, opts...)
		if first {
			ready.Done()
		}
		if err != nil {
			if ctx.Err() == nil {
				b.Errorf("watch %s: %v", object, err)
			}
			return
		}
		for ev := range w.ResultChan() {
			if o, ok := ev.Object.(client.Object); ok && ev.Type != watch.Bookmark && ev.Type != watch.Error {
				t.observe(object, o, time.Now())
			}
		}
		w.Stop()
	}
}

// observe records the steps o's event completes, and counts it as a
// write of object.
func (t *tracer) observe(object string, o client.Object, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() || object == "program" && o.GetName() != t.name {
		return
	}
	t.writes[object]++
	if object == "program" {
		t.uid = o.GetUID()
	}
	for _, s := range t.steps {
		if _, done := t.at[s.name]; !done && s.object == object && s.ok(o, t.name, t.uid, t.gen) {
			t.at[s.name] = now.Sub(t.start)
		}
	}
}

// begin starts tracing generation gen of program name, changed at start.
func (t *tracer) begin(name string, gen int64, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.name, t.gen, t.start, t.uid = name, gen, start, ""
	t.at, t.writes = map[string]time.Duration{}, map[string]int{}
}

// end stops tracing the change, whose waiter saw it done at seen. With
// BPFLEET_TRACE=<file>, it appends the change's steps to the file.
func (t *tracer) end(seen time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The waiter's watch may beat the tracer's to the last step.
	for wait := time.Now().Add(time.Second); len(t.at) < len(t.steps) && time.Now().Before(wait); {
		t.mu.Unlock()
		time.Sleep(time.Millisecond)
		t.mu.Lock()
	}
	t.at["seen"] = seen.Sub(t.start)
	if os.Getenv("BPFLEET_TRACE") != "" {
		t.log(os.Getenv("BPFLEET_TRACE"))
	}
	for _, s := range append(t.steps, traceStep{name: "seen"}) {
		if d, ok := t.at[s.name]; ok {
			t.all[s.name] = append(t.all[s.name], d)
		}
	}
	for _, object := range []string{"program", "set", "report"} {
		t.allWrites[object] = append(t.allWrites[object], t.writes[object])
	}
	t.start = time.Time{}
}

// writeOnce measures, between changes, the round trip of one write of
// a small ConfigMap: what each write on a change's path costs at least,
// on this machine at this moment.
func (t *tracer) writeOnce(b *testing.B, c client.Client) {
	b.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench-write", Namespace: "default"}}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); apierrors.IsNotFound(err) {
		err = c.Create(ctx, cm)
		if err != nil {
			b.Fatal(err)
		}
	}
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"data":{"n":"%d"}}`, len(t.writes1)))
	start := time.Now()
	if err := c.Patch(ctx, cm, patch); err != nil {
		b.Fatal(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes1 = append(t.writes1, time.Since(start))
}

// report reports each step's median time (step-ms), the median number of
// writes of each object a change makes (object-writes), and the median
// round trip of a bare write (write-ms).
func (t *tracer) report(b *testing.B) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range append(t.steps, traceStep{name: "seen"}) {
		if ds := t.all[s.name]; len(ds) > 0 {
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, s.name+"-ms")
		}
	}
	if len(t.writes1) > 0 {
		slices.Sort(t.writes1)
		b.ReportMetric(float64(t.writes1[len(t.writes1)/2].Microseconds())/1000, "write-ms")
	}
	for object, ns := range t.allWrites {
		slices.Sort(ns)
		b.ReportMetric(float64(ns[len(ns)/2]), object+"-writes")
	}
}

// log appends the change's steps and writes to file.
func (t *tracer) log(file string) {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s gen %d: %v writes %v\n", t.name, t.gen, t.at, t.writes)
}
