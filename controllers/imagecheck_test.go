package controllers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// countingRegistry is a real registry on 127.0.0.1 that counts the
// requests it serves, by path.
type countingRegistry struct {
	host string
	mu   sync.Mutex
	seen map[string]int
}

func serveCounting(t *testing.T) *countingRegistry {
	t.Helper()
	r := &countingRegistry{seen: map[string]int{}}
	next := ocitest.Handler(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen[req.Method+" "+req.URL.Path]++
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = srv.Listener.Addr().String()
	return r
}

// requests counts the GETs of paths that contain part.
func (r *countingRegistry) requests(part string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for path, count := range r.seen {
		if strings.HasPrefix(path, "GET ") && strings.Contains(path, part) {
			n += count
		}
	}
	return n
}

// pushCounterELF pushes the tracepoint counter as `bpfleet image build`
// would make it (labels read from the object: count_openat (tracepoint),
// maps counts and total; variables filter_pid (4 bytes) and increment
// (8 bytes)) and returns its digest.
func pushCounterELF(t *testing.T, ref string) string {
	t.Helper()
	// A file name of the test's own: an image of its own digest, which
	// no other test had the operator read.
	name := strings.NewReplacer("/", "_").Replace(t.Name()) + ".o"
	b, err := oci.BytecodeFromELF(name, "", bpf.TracepointCounter)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := oci.Push(context.Background(), ref, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// Each thing a program names that its image lacks is refused before any
// node sees it: Stalled, ImageMismatch, and a message listing what the
// image has. Single kinds and an application, one interface.
func TestImageMismatchRefused(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/counter:v1"
	pushCounterELF(t, ref)
	sel := map[string]string{"test": "mismatch"}
	createNode(t, "mismatch-1", sel)
	source := func(globals map[string]bpfleetv1.GlobalValue) bpfleetv1.ProgramSource {
		return bpfleetv1.ProgramSource{
			ByteCode:     bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}},
			NodeSelector: metav1.LabelSelector{MatchLabels: sel}, GlobalData: globals,
		}
	}
	tracepoint := func(name, program string, globals map[string]bpfleetv1.GlobalValue) bpfleetv1.Program {
		return &bpfleetv1.TracepointProgram{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: bpfleetv1.TracepointProgramSpec{
				ProgramCommon: bpfleetv1.ProgramCommon{ProgramSource: source(globals), ProgramName: program},
				Tracepoint:    bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
			},
		}
	}
	primary := bpfleetv1.InterfaceSelector{Primary: true}
	for _, tc := range []struct {
		name    string
		program bpfleetv1.Program
		want    []string
	}{
		{"program the image lacks", tracepoint("mismatch-name", "count_close", nil),
			[]string{`no program "count_close"; it has programs count_openat (tracepoint)`}},
		{"program of another hook's type", &bpfleetv1.XdpProgram{
			ObjectMeta: metav1.ObjectMeta{Name: "mismatch-type"},
			Spec: bpfleetv1.XdpProgramSpec{
				ProgramCommon: bpfleetv1.ProgramCommon{ProgramSource: source(nil), ProgramName: "count_openat"},
				XDP:           bpfleetv1.XDPAttach{Interfaces: primary},
			},
		}, []string{`program "count_openat" is of type tracepoint, which the XDP hook does not attach (it attaches xdp)`}},
		{"global the object lacks", tracepoint("mismatch-global", "count_openat", map[string]bpfleetv1.GlobalValue{"sampling": "1"}),
			[]string{`globalData "sampling": the object has no such variable; it has variables filter_pid (4 bytes), increment (8 bytes)`}},
		{"value wider than its global", tracepoint("mismatch-width", "count_openat", map[string]bpfleetv1.GlobalValue{"filter_pid": "4294967296"}),
			[]string{`globalData "filter_pid" (4 bytes): value "4294967296": not a unsigned 32-bit integer`}},
		{"map access to a map the image lacks", func() bpfleetv1.Program {
			p := tracepoint("mismatch-map-access", "count_openat", nil).(*bpfleetv1.TracepointProgram)
			p.Spec.MapAccess = []bpfleetv1.MapAccessGrant{{Namespace: "team", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"counts", "flows"}}}
			return p
		}(), []string{`mapAccess: no map "flows"; it has maps counts (hash), total (array)`}},
		{"application program the image lacks", &bpfleetv1.ClusterBpfApplication{
			ObjectMeta: metav1.ObjectMeta{Name: "mismatch-app"},
			Spec: bpfleetv1.ClusterBpfApplicationSpec{
				ProgramSource: source(nil),
				Programs: []bpfleetv1.ApplicationProgram{
					{Name: "count_openat", Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}},
					{Name: "flow_egress", TCX: &bpfleetv1.TCXAttach{Interfaces: primary, Direction: bpfleetv1.TCXEgress}, Optional: true},
				},
			},
		}, []string{`no program "flow_egress"; it has programs count_openat (tracepoint)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := k8s.Create(ctx, tc.program); err != nil {
				t.Fatal(err)
			}
			got := waitStalled(t, tc.program, bpfleetv1.ReasonImageMismatch)
			for _, want := range append(tc.want, "image "+host+"/bpfleet/counter@sha256:") {
				if !strings.Contains(got.Message, want) {
					t.Errorf("Stalled message %q lacks %q", got.Message, want)
				}
			}
			if s, err := getSet("mismatch-1"); err == nil && len(s.Spec.Programs) != 0 {
				t.Errorf("a refused program reached the node: %+v", s.Spec.Programs)
			}
		})
	}
}

// waitStalled waits until p (of any kind) is Stalled with reason at its
// generation, and returns that condition.
func waitStalled(t *testing.T, p bpfleetv1.Program, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, p.GetName()+" Stalled/"+reason, func() (bool, error) {
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: p.GetName()}, p); err != nil {
			return false, err
		}
		st := p.ProgramStatus()
		c := meta.FindStatusCondition(st.Conditions, bpfleetv1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason || st.ObservedGeneration != p.GetGeneration() {
			return false, nil
		}
		got = *c
		return true, nil
	})
	return got
}

// A program its image fits is scheduled as before; the operator reads
// the image once per digest however many programs use it: the config
// once, the layer (for globalData) once, never the manifest again by
// digest (the resolve's GET read it).
func TestImageReadOncePerDigest(t *testing.T) {
	reg := serveCounting(t)
	ref := reg.host + "/bpfleet/counter:v1"
	digest := pushCounterELF(t, ref)
	blobs, manifests := reg.requests("/blobs/"), reg.requests("/manifests/sha256:")
	var entries []bpfleetv1.NodeProgram
	for _, name := range []string{"once-a", "once-b"} {
		_, np := imageScheduledOn(t, name, ref, name+"-1", func(p *bpfleetv1.TracepointProgram) {
			p.Spec.GlobalData = map[string]bpfleetv1.GlobalValue{"filter_pid": "42"}
		})
		entries = append(entries, np)
	}
	for _, np := range entries {
		if want := reg.host + "/bpfleet/counter@" + digest; np.Image != want {
			t.Errorf("node spec image = %q, want %q", np.Image, want)
		}
	}
	if got := reg.requests("/blobs/") - blobs; got != 2 {
		t.Errorf("the operator fetched %d blobs for two programs of one image, want 2 (its config and its layer, once)", got)
	}
	if got := reg.requests("/manifests/sha256:") - manifests; got != 0 {
		t.Errorf("the operator fetched the manifest by digest %d times, want 0: the resolve read it", got)
	}
}

// A MapPolicy naming a map that the image of a program it selects lacks
// is refused, with the program and the maps its image has.
func TestMapPolicyMapTheImageLacksRefused(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/counter:v1"
	pushCounterELF(t, ref)
	p, _ := imageScheduledOn(t, "mp-mismatch-prog", ref, "mp-mismatch-1")
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "mp-mismatch"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: p.Name}}},
			MapName:  "flows",
		},
	}
	if err := k8s.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	var msg string
	eventually(t, "policy Stalled/ImageMismatch", func() (bool, error) {
		var got bpfleetv1.MapPolicy
		if err := k8s.Get(ctx, types.NamespacedName{Name: mp.Name}, &got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != bpfleetv1.ReasonImageMismatch {
			return false, nil
		}
		msg = c.Message
		return true, nil
	})
	want := `TracepointProgram mp-mismatch-prog: image ` + host + `/bpfleet/counter@sha256:`
	if !strings.Contains(msg, want) || !strings.Contains(msg, `no map "flows"; it has maps counts (hash), total (array)`) {
		t.Errorf("Stalled message %q, want the program, its image and the maps it has", msg)
	}
}

// An image whose config has no labels (built for an older bpfman, or by
// hand) is checked against its object's own programs.
func TestUnlabeledImageCheckedAgainstItsObject(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/unlabeled:v1"
	ocitest.PushUnlabeled(t, ref, bpf.TracepointCounter)
	sel := map[string]string{"test": "unlabeled"}
	createNode(t, "unlabeled-1", sel)
	p := pathProgram("unlabeled", sel)
	p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}}
	p.Spec.ProgramName = "count_close"
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitStalled(t, p, bpfleetv1.ReasonImageMismatch)
	if want := `no program "count_close"; it has programs count_openat (tracepoint)`; !strings.Contains(got.Message, want) {
		t.Errorf("Stalled message %q lacks %q", got.Message, want)
	}
}
