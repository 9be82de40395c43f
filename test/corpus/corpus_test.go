package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository, from this package's folder.
const repoRoot = "../.."

// entry is one object of corpus.list.
type entry struct {
	Package, Version, Object string
}

// ID names the object in the expected results: package/object.
func (e entry) ID() string { return e.Package + "/" + e.Object }

// Path is the object in the cache hack/corpus.sh fills.
func (e entry) Path() string {
	return filepath.Join(repoRoot, ".cache", "corpus", e.Package+"_"+e.Version, e.Object)
}

// readList reads corpus.list.
func readList(t *testing.T) []entry {
	t.Helper()
	raw, err := os.ReadFile("corpus.list")
	if err != nil {
		t.Fatal(err)
	}
	var list []entry
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 4 {
			t.Fatalf("corpus.list: %q: want package, version, object and sha256", sc.Text())
		}
		list = append(list, entry{f[0], f[1], f[2]})
	}
	return list
}

// fillCache runs hack/corpus.sh, which downloads what the cache lacks.
func fillCache(t *testing.T) {
	t.Helper()
	cmd := exec.Command("hack/corpus.sh")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/corpus.sh (fills .cache/corpus from Debian's mirror): %v\n%s", err, out)
	}
}

// cli runs the bpfleet binary with its own image store.
type cli struct {
	bin, store string
}

// buildCLI builds cmd/bpfleet into a temporary folder.
func buildCLI(t *testing.T) cli {
	t.Helper()
	dir := t.TempDir()
	c := cli{bin: filepath.Join(dir, "bpfleet"), store: filepath.Join(dir, "store")}
	if out, err := exec.Command("go", "build", "-o", c.bin, "../../cmd/bpfleet").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bpfleet: %v\n%s", err, out)
	}
	return c
}

// run runs bpfleet with args and returns its standard output, or what it
// printed on standard error as the error.
func (c cli) run(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "BPFLEET_STORE="+c.store)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "", errors.New(strings.TrimSpace(string(ee.Stderr)))
	}
	return strings.TrimSpace(string(out)), err
}

// image is what `bpfleet image inspect -o json` shows of one platform.
type image struct {
	Programs map[string]string `json:"programs"`
	Maps     map[string]string `json:"maps"`
}

// packageImage builds, pushes and inspects e's image under ref, as a
// platform team does. A refused build is returned as the error.
func (c cli) packageImage(e entry, ref string) (image, error) {
	if _, err := c.run("image", "build", "-f", e.Path(), "-t", ref); err != nil {
		return image{}, err
	}
	if _, err := c.run("image", "push", "-q", ref); err != nil {
		return image{}, err
	}
	out, err := c.run("image", "inspect", "-o", "json", ref)
	if err != nil {
		return image{}, err
	}
	var in struct{ Images []image }
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		return image{}, fmt.Errorf("inspect %s: %w", ref, err)
	}
	if len(in.Images) != 1 {
		return image{}, fmt.Errorf("inspect %s: %d platforms, want 1", ref, len(in.Images))
	}
	return in.Images[0], nil
}

// mapList is an image's maps as "name:type" sorted by name.
func (i image) mapList() string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(i.Maps)) {
		out = append(out, name+":"+i.Maps[name])
	}
	return strings.Join(out, " ")
}
