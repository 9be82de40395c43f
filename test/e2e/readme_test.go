package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// readmeStep is one "$" line of the README's walk-through and the output
// printed under it.
type readmeStep struct {
	command string
	output  []string
}

// The README's command-line walk-through runs here, each "$" line exactly
// as printed, as the README says: from the repository's root, a registry
// on 127.0.0.1:5000, KUBECONFIG pointing at the running system, bpfleet,
// kubectl-bpfleet and kubectl on the PATH. The table headers printed
// under a command must be those it prints.
func TestREADMECommandLine(t *testing.T) {
	s := startStack(t)
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	steps := readmeWalkthrough(t, filepath.Join(root, "README.md"))
	if _, stop, err := ocitest.Start("127.0.0.1:5000", nil); err != nil {
		t.Fatalf("the README's registry: %v (is make run up? stop it, it holds the port)", err)
	} else {
		t.Cleanup(stop)
	}
	bin := t.TempDir()
	cli := buildCLI(t, bin)
	for _, name := range []string{"kubectl-bpfleet", "kubectl_complete-bpfleet"} {
		if err := os.Symlink(cli, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := s.Plane.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	made := []string{"/tmp/bpfleet-readme.key", "/tmp/bpfleet-readme.pub", "/tmp/bpfleet-readme-layout"}
	removeFiles(made)
	t.Cleanup(func() { removeFiles(made) })
	t.Cleanup(func() { // a failed step leaves the program behind
		_, _ = s.Plane.Kubectl(kubeconfig, "delete", "--ignore-not-found", "-f", filepath.Join(root, "config/samples/cli/opens.yaml"))
		waitGone(t, s.Client, "opens")
	})
	env := append(os.Environ(), "PATH="+bin+":"+filepath.Join(root, "bin")+":"+os.Getenv("PATH"),
		"KUBECONFIG="+kubeconfig, "BPFLEET_STORE="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir())

	outputs := map[string]string{}
	checks := map[string]func(out string){
		"kubectl bpfleet status tracepointprogram/opens": func(out string) {
			row := lineWith(out, node)
			if len(row) < 8 || row[1] != "tracepointprogram/opens" || row[3] != "Ready" || row[7] == "-" {
				t.Fatalf("kubectl bpfleet status: the node's row %q, want the program Ready with run statistics:\n%s", row, out)
			}
			if id, err := strconv.ParseUint(row[4], 10, 32); err != nil || !bpftoolShows(t, uint32(id)) {
				t.Errorf("the program ID status shows, %s, is not in the kernel (%v)", row[4], err)
			}
		},
		"kubectl bpfleet nodes": func(out string) {
			if n := lineWith(out, node); len(n) < 2 || n[1] != "Alive" {
				t.Errorf("kubectl bpfleet nodes: the node's row %q", n)
			}
		},
	}
	for _, step := range steps {
		cmd := exec.Command("bash", "-c", step.command)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("$ %s: %v\n%s", step.command, err, out)
		}
		t.Logf("$ %s\n%s", step.command, out)
		outputs[step.command] = string(out)
		if check := checks[step.command]; check != nil {
			check(string(out))
			delete(checks, step.command)
		}
		for _, want := range step.output {
			if isHeader(want) && !hasLineFields(string(out), strings.Fields(want)) {
				t.Errorf("$ %s: the README prints the header\n%s\nit printed:\n%s", step.command, want, out)
			}
		}
	}
	if v := outputOf(t, outputs, "bpfleet version"); !strings.Contains(v, cliStamp.Version) || !strings.Contains(v, cliStamp.Revision[:12]) {
		t.Errorf("bpfleet version = %q, want the stamp %+v", v, cliStamp)
	}
	for command := range checks {
		t.Errorf("the README's walk-through no longer runs %q", command)
	}
	waitGone(t, s.Client, "opens")
}

// readmeWalkthrough reads the "$" lines of the README's command-line
// section, and what is printed under each. Every example of the section
// is such a line: another code block there is an error.
func readmeWalkthrough(t *testing.T, path string) []readmeStep {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []readmeStep
	in, inBlock := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		block := strings.HasPrefix(line, "    ")
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.HasPrefix(line, "## The command line")
		case !in:
		case strings.HasPrefix(line, "```"):
			t.Errorf("README, the command-line section: a fenced block, which this test does not run: %s", line)
		case strings.HasPrefix(line, "    $ "):
			steps = append(steps, readmeStep{command: strings.TrimPrefix(line, "    $ ")})
		case block && !inBlock:
			t.Errorf("README, the command-line section: an indented block that does not start with a \"$\" line, which this test would not run: %q", line)
		case block && len(steps) > 0:
			last := &steps[len(steps)-1]
			last.output = append(last.output, strings.TrimSpace(line))
		}
		inBlock = block
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(steps) < 10 {
		t.Fatalf("%s: %d steps in the command-line section; the test reads \"    $ \" lines under \"## The command line\"", path, len(steps))
	}
	return steps
}

// isHeader reports whether a printed line is a table header: upper case.
func isHeader(line string) bool {
	return line != "" && strings.ToUpper(line) == line && strings.ContainsAny(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

func hasLineFields(out string, fields []string) bool {
	for _, line := range strings.Split(out, "\n") {
		if slices.Equal(strings.Fields(line), fields) {
			return true
		}
	}
	return false
}

// lineWith returns the fields of the first line of out whose first field
// is first.
func lineWith(out, first string) []string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	return nil
}

func outputOf(t *testing.T, outputs map[string]string, command string) string {
	t.Helper()
	out, ok := outputs[command]
	if !ok {
		t.Fatalf("the README's walk-through no longer runs %q", command)
	}
	return out
}

func removeFiles(paths []string) {
	for _, p := range paths {
		_ = os.RemoveAll(p)
	}
}
