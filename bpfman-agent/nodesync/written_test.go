package nodesync

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// apiRequests records the requests a client makes for NodeProgramSets and
// NodeProgramReports.
type apiRequests struct {
	mu   sync.Mutex
	seen []*http.Request
	next http.RoundTripper
}

func (a *apiRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/nodeprogramreports") || strings.Contains(req.URL.Path, "/nodeprogramsets") {
		a.mu.Lock()
		a.seen = append(a.seen, req.Clone(req.Context()))
		a.mu.Unlock()
	}
	return a.next.RoundTrip(req)
}

// writes counts the report writes recorded (creates, patches, updates).
func (a *apiRequests) writes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, req := range a.seen {
		if req.Method != http.MethodGet && strings.Contains(req.URL.Path, "/nodeprogramreports") {
			n++
		}
	}
	return n
}

// reads lists the reads recorded of resource: "list", "watch" or "get",
// each with its Accept header.
func (a *apiRequests) reads(resource string) map[string][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]string{}
	for _, req := range a.seen {
		if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/"+resource) {
			continue
		}
		verb := "get"
		switch {
		case req.URL.Query().Get("watch") == "true":
			verb = "watch"
		case strings.HasSuffix(req.URL.Path, "/"+resource):
			verb = "list"
		}
		out[verb] = append(out[verb], req.Header.Get("Accept"))
	}
	return out
}

// recorded is cfg with its requests for reports recorded.
func recorded(cfg *rest.Config) (*rest.Config, *apiRequests) {
	a := &apiRequests{}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		a.next = rt
		return a
	})
	return cfg, a
}

func startPlane(t *testing.T) *controlplane.Plane {
	t.Helper()
	plane, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Stop() })
	return plane
}

func startManager(t *testing.T, mgr ctrl.Manager) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = mgr.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}

// The agent caches its report's metadata only: with a thousand programs
// each decoded in its cache (and the watch's buffers sized to them), and
// copied each pass, was megabytes of the idle agent's memory. Its set it
// watches itself, one event per watch (heldSet).
func TestAgentCachesMetadataOnly(t *testing.T) {
	testkernel.Require(t)
	plane := startPlane(t)
	mnt := testkernel.TempBPFFS(t)
	cfg, requests := recorded(plane.Config)
	const node = "metadata-node"
	mgr, err := NewManager(cfg, Scheme(), Options{
		NodeName: node, PinRoot: filepath.Join(mnt, "bpfleet"), BPFFSMountAt: mnt, ImageDir: t.TempDir(),
		MetricsAddr: "0", LeaseNamespace: controlplane.Namespace, InProcess: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := startManager(t, mgr)
	waitReport(t, ctx, mgr.GetAPIReader(), node)
	if reads := requests.reads("nodeprogramsets"); len(reads["watch"]) == 0 {
		t.Fatalf("the agent does not watch its set (%v): it would not see it change", reads)
	}
	reads := requests.reads("nodeprogramreports")
	if len(reads["watch"]) == 0 {
		t.Fatalf("the agent does not watch its report (%v): it would not see it go", reads)
	}
	for _, verb := range []string{"list", "watch"} {
		for _, accept := range reads[verb] {
			if !strings.Contains(accept, "as=PartialObjectMetadata") {
				t.Errorf("the agent's %s of its report decodes it whole (Accept %q); want its metadata only", verb, accept)
			}
		}
	}
}

func waitReport(t *testing.T, ctx context.Context, c client.Reader, node string) *bpfleetv1.NodeProgramReport {
	t.Helper()
	var report bpfleetv1.NodeProgramReport
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, types.NamespacedName{Name: node}, &report) == nil, nil
	})
	if err != nil {
		t.Fatalf("the agent never wrote the report of %s", node)
	}
	return &report
}

// waitCached waits until the cache c shows node's object of kind at
// resourceVersion rv, or gone with "", as it does when a pass starts after
// the watch event of a change.
func waitCached(t *testing.T, ctx context.Context, c client.Reader, kind, node, rv string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		meta := objectMeta(kind, node)
		err := c.Get(ctx, types.NamespacedName{Name: node}, meta)
		if rv == "" {
			return apierrors.IsNotFound(err), nil
		}
		return err == nil && meta.ResourceVersion == rv, nil
	})
	if err != nil {
		t.Fatalf("the agent's cache never showed the %s of %s at %q", kind, node, rv)
	}
}

// fullStatus is a report's status with every kind of field set, as the
// agent builds it (empty lists and maps included), saying msg of program
// a: unchanged, it must read back from the API as written.
func fullStatus(msg string) bpfleetv1.NodeProgramReportStatus {
	return bpfleetv1.NodeProgramReportStatus{
		SetGeneration: 3,
		Capabilities: &bpfleetv1.NodeCapabilities{KernelRelease: "6.18", BTF: true, Hooks: []bpfleetv1.HookSupport{
			{Name: "Tracepoint", Supported: true}, {Name: "Kprobe", Reason: "no CONFIG_KPROBES"},
		}},
		Programs: []bpfleetv1.NodeProgramStatus{
			{UID: "a", Generation: 2, State: bpfleetv1.StateReady, Message: msg, ProgramID: 7,
				Objects: bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{{Target: "main", LinkID: 9}}, MapIDs: map[string]uint32{"counts": 8, "b": 1}},
				PinPath: "/sys/fs/bpf/bpfleet/a/r1"},
			{UID: "b", State: bpfleetv1.StateFailed, Reason: "VerifierRejected", Terminal: true,
				VerifierLog: "R1 invalid mem access", Objects: bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{}, MapIDs: map[string]uint32{}}},
		},
		MapPolicies: []bpfleetv1.NodeMapPolicyStatus{{UID: "p", Name: "p", State: bpfleetv1.StateReady, Entries: 2, MaxEntries: 10}},
	}
}

// reportPass writes a report saying msg of program a, as a pass does,
// and says whether it was written.
type reportPass func(r *Reconciler, set *bpfleetv1.NodeProgramSet, msg string) bool

// A pass writes the report exactly when the one in the API differs from
// it: not again when unchanged, also after a restart (which forgets what
// it wrote), but when someone else changed it, deleted it, or it belongs
// to an earlier set of the node.
func TestReportWrittenOnlyWhenItDiffers(t *testing.T) {
	plane := startPlane(t)
	cfg, requests := recorded(plane.Config)
	const node = "written-node"
	mgr, err := newManager(cfg, Scheme(), Options{NodeName: node, MetricsAddr: "0", InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := startManager(t, mgr)
	c := mgr.GetClient()
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: node}}
	if err := c.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	pass := func(r *Reconciler, set *bpfleetv1.NodeProgramSet, msg string) bool {
		t.Helper()
		report := r.newReport()
		report.Status = fullStatus(msg)
		before := requests.writes()
		if err := r.writeReport(ctx, report, set); err != nil {
			t.Fatal(err)
		}
		return requests.writes() > before
	}
	r := &Reconciler{Client: c, APIReader: mgr.GetAPIReader(), NodeName: node}
	if !pass(r, set, "one") {
		t.Fatal("no report: not written")
	}
	if pass(r, set, "one") {
		t.Error("an unchanged report was written again")
	}
	if !pass(r, set, "two") {
		t.Error("a changed report was not written")
	}
	restarted := &Reconciler{Client: c, APIReader: mgr.GetAPIReader(), NodeName: node}
	if pass(restarted, set, "two") {
		t.Error("an unchanged report was written again by a restarted agent")
	}
	checkRewrites(t, ctx, c, restarted, set, pass)
}

// checkRewrites checks that pass rewrites a report edited by someone
// else, deleted, or controlled by an earlier set.
func checkRewrites(t *testing.T, ctx context.Context, c client.Client, r *Reconciler, set *bpfleetv1.NodeProgramSet, pass reportPass) {
	t.Helper()
	edited := waitReport(t, ctx, r.APIReader, r.NodeName)
	edited.Status.Programs[0].Message = "edited by hand"
	if err := c.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	waitCached(t, ctx, c, "NodeProgramReport", r.NodeName, edited.ResourceVersion)
	if !pass(r, set, "two") {
		t.Error("a report someone else changed was not written again")
	}
	if got := waitReport(t, ctx, r.APIReader, r.NodeName); got.Status.Programs[0].Message != "two" {
		t.Errorf("report says %q, want the agent's %q", got.Status.Programs[0].Message, "two")
	}
	if err := c.Delete(ctx, edited); err != nil {
		t.Fatal(err)
	}
	waitCached(t, ctx, c, "NodeProgramReport", r.NodeName, "")
	if !pass(r, set, "two") {
		t.Error("a deleted report was not written again")
	}
	// The set made anew: the report of the earlier one is not this set's.
	if err := c.Delete(ctx, set); err != nil {
		t.Fatal(err)
	}
	anew := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: r.NodeName}}
	if err := c.Create(ctx, anew); err != nil {
		t.Fatal(err)
	}
	if !pass(r, anew, "two") {
		t.Error("the report of an earlier set was not written again")
	}
	if got := waitReport(t, ctx, r.APIReader, r.NodeName); !metav1.IsControlledBy(got, anew) {
		t.Errorf("report owned by %+v, want the new set %s", got.OwnerReferences, anew.UID)
	}
}
