package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/hack/vmkernel/vmspec"
)

// runTests brings lo up (and the relays to the host spec.Forward asks
// for) and runs each test binary, writing its Result
// once it exited.
func runTests(spec *vmspec.Spec) error {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %w: %s", err, out)
	}
	if err := forward(spec.Forward); err != nil {
		return err
	}
	kernel, err := release()
	if err != nil {
		return err
	}
	for _, t := range spec.Tests {
		fmt.Printf("bpfleet-vm: %s: running %s\n", kernel, t.Name)
		r := runTest(spec, t)
		r.Kernel = kernel
		fmt.Printf("bpfleet-vm: %s: %s exited %d after %.0fs %s\n", kernel, t.Name, r.ExitCode, r.Seconds, r.Error)
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vmspec.GuestResults, t.Name+vmspec.ResultSuffix), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// release is the kernel's version, as uname -r says.
func release() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// runTest runs t's binary in its folder, its output into t.Name.out.
func runTest(spec *vmspec.Spec, t vmspec.Test) vmspec.Result {
	r := vmspec.Result{Name: t.Name, ExitCode: -1}
	out, err := os.Create(filepath.Join(vmspec.GuestResults, t.Name+".out"))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer out.Close()
	cmd := exec.Command(t.Binary, t.Args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = t.Dir, out, out
	cmd.Env = append(os.Environ(), spec.Env...)
	start := time.Now()
	err = cmd.Run()
	r.Seconds = time.Since(start).Seconds()
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.ExitCode = 0
	case errors.As(err, &exit):
		r.ExitCode = exit.ExitCode()
	default:
		r.Error = err.Error()
	}
	return r
}
