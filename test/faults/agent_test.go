package faults

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/bpfleet/bpfleet/internal/faultpoint"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// host is one case's node: its own BPF filesystem (the agent's pin root)
// and state directory, and the agent process running for it now.
type host struct {
	t       *testing.T
	s       *suite
	pinRoot string
	state   string
	log     string
	// trace, if set, is the file the agent appends the steps it passes
	// to (faultpoint.TraceEnv).
	trace string
	// images is the agent's image cache: the suite's, unless a case
	// gives the host its own (ownImages).
	images string
	// args are flags added to the agent's command line.
	args  []string
	agent *agentProc
}

// agentProc is one run of the agent's binary.
type agentProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited; cmd.ProcessState is then set
}

// newHost makes a case's host. When the case ends, the agent is stopped
// and the pin root must be empty (every program was deleted by then).
func newHost(t *testing.T, s *suite) *host {
	t.Helper()
	dir := t.TempDir()
	h := &host{t: t, s: s, pinRoot: filepath.Join(testkernel.TempBPFFS(t), "bpfleet"),
		state: filepath.Join(dir, "state"), log: filepath.Join(dir, "agent.log"), images: filepath.Join(s.dir, "images")}
	t.Cleanup(func() {
		h.stop()
		if left := pinsUnder(t, h.pinRoot); len(left) > 0 {
			t.Errorf("pins left after every program was deleted: %v", left)
		}
		if t.Failed() {
			keepLog(t, h.log)
		}
	})
	return h
}

// start runs the agent, killed at step killAt ("" runs it whole).
func (h *host) start(killAt string) {
	h.t.Helper()
	if h.agent != nil && !h.agent.exited() {
		h.t.Fatal("an agent already runs for this host")
	}
	logf, err := os.OpenFile(h.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(h.s.agentBin, "--node-name="+node, "--pin-root="+h.pinRoot,
		"--image-cache="+h.images, "--state-dir="+h.state,
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	cmd.Args = append(cmd.Args, h.args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+h.s.kubeconfig, faultpoint.Env+"="+killAt, "GOTRACEBACK=all")
	if h.trace != "" {
		cmd.Env = append(cmd.Env, faultpoint.TraceEnv+"="+h.trace)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	a := &agentProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(a.done) }()
	h.agent = a
}

// ownImages gives the host an image cache of its own, empty, at dir ("":
// a new temporary directory), and returns it.
func (h *host) ownImages(dir string) string {
	if dir == "" {
		dir = filepath.Join(h.t.TempDir(), "images")
	}
	h.images = dir
	return dir
}

// kill stops the agent as a crash or an OOM kill does (SIGKILL), if it
// runs.
func (h *host) kill() {
	h.t.Helper()
	a := h.agent
	if a == nil || a.exited() {
		return
	}
	_ = a.cmd.Process.Kill()
	<-a.done
}

// stop stops the agent as a node stops it (SIGTERM), if it runs. The
// kubelet's default grace period is 30 s; a slower agent is killed.
func (h *host) stop() {
	h.stopWithin(30 * time.Second)
}

// stopWithin sends the agent SIGTERM, if it runs, and waits for it to exit
// for at most limit, and returns how long it took. An agent that takes
// longer fails the case: it is made to write every goroutine's stack to
// its log (SIGQUIT with GOTRACEBACK=all), then killed.
func (h *host) stopWithin(limit time.Duration) time.Duration {
	a := h.agent
	if a == nil || a.exited() {
		return 0
	}
	sent := time.Now()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		return time.Since(sent)
	case <-time.After(limit):
	}
	_ = a.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
	h.t.Errorf("the agent did not stop within %v of SIGTERM (its goroutines are in its log)", limit)
	return time.Since(sent)
}

func (a *agentProc) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// killed reports whether the agent died of SIGKILL.
func (a *agentProc) killed() bool {
	ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// await polls ok until it holds (false) or the agent died of a kill
// (true). It fails the case if the agent exits otherwise, or neither
// happens within a minute.
func (h *host) await(what string, ok func(context.Context) bool) (killed bool) {
	h.t.Helper()
	return h.awaitWithin(what, time.Minute, ok)
}

// awaitWithin is await with a limit of its own.
func (h *host) awaitWithin(what string, limit time.Duration, ok func(context.Context) bool) (killed bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 25*time.Millisecond, limit, true,
		func(ctx context.Context) (bool, error) {
			if h.agent.exited() {
				if h.agent.killed() {
					return true, nil
				}
				return false, errors.New("the agent exited: " + h.agent.cmd.ProcessState.String())
			}
			return ok(ctx), nil
		})
	if err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
	return h.agent.exited()
}

// settle waits until ok holds with an agent that is not to be killed.
func (h *host) settle(what string, ok func(context.Context) bool) {
	h.t.Helper()
	h.settleWithin(what, time.Minute, ok)
}

// settleWithin is settle with a limit of its own.
func (h *host) settleWithin(what string, limit time.Duration, ok func(context.Context) bool) {
	h.t.Helper()
	if h.awaitWithin(what, limit, ok) {
		h.t.Fatalf("the agent was killed while waiting for %s, with no kill asked", what)
	}
}

// pinsUnder lists every file and directory below root.
func pinsUnder(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// keepLog copies a failed case's agent log out of its temporary
// directory, and says where.
func keepLog(t *testing.T, log string) {
	b, err := os.ReadFile(log)
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_", "#", "_").Replace(t.Name())
	kept := filepath.Join(os.TempDir(), "bpfleet-faults-agent-"+name+".log")
	if err := os.WriteFile(kept, b, 0o600); err == nil {
		t.Logf("agent log: %s", kept)
	}
}
