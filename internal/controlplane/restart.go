package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// StopAPIServer kills the kube-apiserver (SIGKILL, as a crash of its host
// would; a graceful stop waits tens of seconds for open watches) and waits
// until it is gone: an outage of the control plane. etcd keeps running
// with its data, and the server's certificates stay, so that
// StartAPIServer brings the same server back, on the same port, to the
// same clients.
func (p *Plane) StopAPIServer() error {
	pid, args, err := p.apiServer()
	if err != nil {
		return err
	}
	if p.restarted != nil { // the server StartAPIServer brought back
		_ = p.restarted.Process.Kill()
		_ = p.restarted.Wait()
		p.restarted = nil
		return nil
	}
	p.args = args
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	return waitGone(pid)
}

// StartAPIServer starts the kube-apiserver StopAPIServer stopped, with the
// same arguments, and waits until it is ready.
func (p *Plane) StartAPIServer(ctx context.Context) error {
	if p.args == nil {
		return errors.New("start kube-apiserver: it was not stopped")
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver: %w", err)
	}
	p.restarted = cmd
	return p.waitReady(ctx)
}

// apiServer finds the process of the plane's kube-apiserver (a child of
// this process listening on the plane's port) and its command line.
func (p *Plane) apiServer() (int, []string, error) {
	u, err := url.Parse(p.Config.Host)
	if err != nil {
		return 0, nil, err
	}
	port := "--secure-port=" + u.Port()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		args := cmdline(pid)
		if len(args) > 0 && filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args[1:], port) {
			return pid, args, nil
		}
	}
	return 0, nil, fmt.Errorf("no kube-apiserver running with %s", port)
}

func cmdline(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// waitGone waits until the process pid has exited and been reaped.
func waitGone(pid int) error {
	for range 600 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver (pid %d) still runs 30 s after SIGKILL", pid)
}

// waitReady polls the server's /readyz, as the plane's admin, until it
// answers 200.
func (p *Plane) waitReady(ctx context.Context) error {
	hc, err := rest.HTTPClientFor(p.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	last := ""
	for {
		if resp, err := hc.Get(strings.TrimSuffix(p.Config.Host, "/") + "/readyz"); err != nil {
			last = err.Error()
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after its restart (%s): %w", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopCmd stops a kube-apiserver StartAPIServer started (SIGTERM, as
// envtest stops its own).
func stopCmd(cmd *exec.Cmd) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("kube-apiserver did not stop within 30 s of SIGTERM: killed")
	}
}
