package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
)

// Flags go anywhere, before or after the reference, as in kubectl, oras
// and cosign.
func TestFlagsAnywhere(t *testing.T) {
	e := newEnv(t)
	ref := e.host + "/team/anywhere:v1"
	e.must("image", "build", "-t", ref, "-f", e.object("counter.o", bpf.TracepointCounter))
	e.must("image", "push", ref, "-q")
	in := decodeInspection(t, e.must("image", "inspect", ref, "-o", "json", "--remote"))
	if in.Source != sourceRegistry || len(in.Images) != 1 {
		t.Errorf("inspect REF -o json --remote = %+v", in)
	}
}

// build → ls → inspect (from the store, before any push) → push →
// inspect --remote → rm: the store is empty again, and the registry still
// holds the image.
func TestLocalStore(t *testing.T) {
	e := newEnv(t)
	ref := e.host + "/team/stored:v1"
	other := e.host + "/team/stored:v2"
	if out := e.must("image", "ls"); strings.Count(out, "\n") != 0 {
		t.Errorf("ls of an empty store:\n%s", out)
	}
	for _, args := range [][]string{{"image", "push", ref}, {"image", "rm", ref}} {
		if code, _, errs := e.bpfleet(args...); code != exitNotFound || !strings.Contains(errs, "not in the local store") {
			t.Errorf("%s before build: exit %d, %s", strings.Join(args, " "), code, errs)
		}
	}
	if entries, _ := os.ReadDir(e.dir + "/store"); len(entries) != 0 {
		t.Errorf("push and rm of what was never built made %v in the store", entries)
	}
	built := e.must("image", "build", "-f", e.object("counter.o", bpf.TracepointCounter), "-t", ref)
	e.must("image", "build", "-f", e.object("counter.o", bpf.TracepointCounter), "-t", other)

	table := e.must("image", "ls")
	for _, want := range []string{"REFERENCE", ref, other, "count_openat", "linux/amd64"} {
		if !strings.Contains(table, want) {
			t.Errorf("ls lacks %q:\n%s", want, table)
		}
	}
	var list struct{ Items []storedTag }
	if err := json.Unmarshal([]byte(e.must("image", "ls", "-o", "json")), &list); err != nil || len(list.Items) != 2 ||
		list.Items[0].Reference != ref || !strings.HasSuffix(built, "@"+list.Items[0].Digest.String()) {
		t.Errorf("ls -o json = %+v (%v), built %s", list, err, built)
	}
	if out := e.must("image", "ls", "-q"); out != ref+"\n"+other {
		t.Errorf("ls -q = %q", out)
	}

	in := decodeInspection(t, e.must("image", "inspect", ref, "-o", "json"))
	if in.Source != sourceLocal || in.Images[0].Programs["count_openat"] != "tracepoint" {
		t.Errorf("inspect before push = %+v, want it read from the local store", in)
	}
	if code, _, errs := e.bpfleet("image", "inspect", "--remote", ref); code != exitNotFound {
		t.Errorf("inspect --remote before push: exit %d, %s; want %d", code, errs, exitNotFound)
	}
	e.must("image", "push", "-q", ref)
	if in := decodeInspection(t, e.must("image", "inspect", "--remote", "-o", "json", ref)); in.Source != sourceRegistry || in.Digest != list.Items[0].Digest {
		t.Errorf("inspect --remote after push = %+v", in)
	}

	if out := e.must("image", "rm", ref, other); out != ref+"\n"+other {
		t.Errorf("rm printed %q", out)
	}
	if out := e.must("image", "ls", "-q"); out != "" {
		t.Errorf("ls after rm = %q", out)
	}
	if entries, err := os.ReadDir(e.dir + "/store"); err != nil || len(entries) != 0 {
		t.Errorf("the store after rm holds %v (%v)", entries, err)
	}
	if code, _, errs := e.bpfleet("image", "rm", ref); code != exitNotFound || !strings.Contains(errs, "not in the local store") {
		t.Errorf("rm of what is gone: exit %d, %s", code, errs)
	}
	if in := decodeInspection(t, e.must("image", "inspect", "-o", "json", ref)); in.Source != sourceRegistry {
		t.Errorf("inspect after rm = %+v, want the registry's", in)
	}
}

// rm of one tag keeps what another tag of the same image holds.
func TestRemoveKeepsSharedContent(t *testing.T) {
	e := newEnv(t)
	a, b := e.host+"/team/shared:a", e.host+"/team/shared:b"
	obj := e.object("counter.o", bpf.TracepointCounter)
	e.must("image", "build", "-f", obj, "-t", a)
	e.must("image", "build", "-f", obj, "-t", b)
	e.must("image", "rm", a)
	if in := decodeInspection(t, e.must("image", "inspect", "-o", "json", b)); in.Source != sourceLocal || len(in.Images) != 1 {
		t.Errorf("inspect of the tag left = %+v", in)
	}
}

func TestCompletionAndVersion(t *testing.T) {
	e := newEnv(t)
	ref := e.host + "/team/complete:v1"
	e.must("image", "build", "-f", e.object("counter.o", bpf.TracepointCounter), "-t", ref)
	for shell, want := range map[string]string{"bash": "__start_bpfleet", "zsh": "#compdef bpfleet", "fish": "complete -c bpfleet"} {
		if out := e.must("completion", shell); !strings.Contains(out, want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
	}
	if out := e.must("__complete", "image", "inspect", e.host+"/team/c"); !strings.Contains(out, ref) {
		t.Errorf("completing a stored reference:\n%s", out)
	}
	if out := e.must("__complete", "image", "inspect", "-o", ""); !strings.Contains(out, "json") {
		t.Errorf("completing -o:\n%s", out)
	}

	var v struct{ Version, GoVersion, Platform string }
	if err := json.Unmarshal([]byte(e.must("version", "-o", "json")), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Errorf("version -o json = %+v (%v)", v, err)
	}
	if out := e.must("--version"); !strings.Contains(out, v.GoVersion) {
		t.Errorf("--version = %q", out)
	}
	if out := e.must("image", "inspect", "--help"); !strings.Contains(out, "Examples:") || !strings.Contains(out, "--remote") {
		t.Errorf("inspect --help lacks examples or flags:\n%s", out)
	}
}
