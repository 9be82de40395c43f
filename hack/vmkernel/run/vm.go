package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bpfleet/bpfleet/hack/vmkernel/vmspec"
)

// attempts is how often a VM is booted before its kernel is reported as
// not run: under heavy load a TCG guest now and then locks up or panics
// at boot.
const attempts = 2

// cmdline is the guest kernel's command line. softlockup_panic and
// panic=-1 turn a lock-up into a reboot, which -no-reboot turns into
// qemu's exit (then a retry); no_timer_check avoids the "IO-APIC + timer
// doesn't work" panic of a slow TCG boot; lsm= activates BPF LSM.
var cmdline = strings.Join([]string{
	"console=ttyS0", "panic=-1", "softlockup_panic=1", "no_timer_check",
	"lsm=lockdown,capability,landlock,yama,apparmor,bpf", "mitigations=off", "loglevel=4",
}, " ")

// kernelRun is one kernel's VM runs and their outcome.
type kernelRun struct {
	opts    *options
	dir     string // the unpacked kernel package
	release string
	init    string
	tests   []builtTest

	results string       // the folder of the last attempt
	done    *vmspec.Done // nil if no attempt finished
	tries   []string     // why each failed attempt failed
	elapsed time.Duration
}

// run boots the VM until one attempt finishes, at most attempts times.
func (k *kernelRun) run() {
	start := time.Now()
	defer func() { k.elapsed = time.Since(start) }()
	base := filepath.Join(k.opts.out, k.release)
	initramfs := filepath.Join(base, "initramfs.cpio")
	if err := os.MkdirAll(base, 0o755); err != nil {
		k.tries = append(k.tries, err.Error())
		return
	}
	if err := writeInitramfs(initramfs, k.dir, k.release, k.init); err != nil {
		k.tries = append(k.tries, fmt.Sprintf("initramfs: %v", err))
		return
	}
	for i := 1; i <= attempts; i++ {
		k.results = filepath.Join(base, "try"+strconv.Itoa(i))
		done, err := k.boot(initramfs, k.results)
		if err == nil {
			k.done = done
			return
		}
		k.tries = append(k.tries, err.Error())
		fmt.Printf("vmkernel: %s: attempt %d failed: %v\n", k.release, i, err)
	}
}

// boot runs one VM with its results in dir and reads what it did.
func (k *kernelRun) boot(initramfs, dir string) (*vmspec.Done, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := k.writeSpec(dir); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.opts.timeout)
	defer cancel()
	console := filepath.Join(dir, "console.log")
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", k.qemuArgs(initramfs, dir, console)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("no power-off within %s (console: %s)", k.opts.timeout, console)
	}
	if err != nil {
		return nil, fmt.Errorf("qemu: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return k.readDone(dir, console)
}

// readDone reads the init's Done file, which a VM that crashed or was
// cut short lacks.
func (k *kernelRun) readDone(dir, console string) (*vmspec.Done, error) {
	b, err := os.ReadFile(filepath.Join(dir, vmspec.DoneFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("the VM stopped before the tests ended: %s", lastLines(console, 3))
	}
	if err != nil {
		return nil, err
	}
	var done vmspec.Done
	if err := json.Unmarshal(b, &done); err != nil {
		return nil, fmt.Errorf("%s: %w", vmspec.DoneFile, err)
	}
	if done.Kernel != k.release {
		return nil, fmt.Errorf("the VM ran kernel %s, not %s", done.Kernel, k.release)
	}
	return &done, nil
}

// writeSpec writes what the VM runs: every test binary, verbose.
func (k *kernelRun) writeSpec(dir string) error {
	spec := vmspec.Spec{Modules: filepath.Join(k.absDir(), "lib/modules", k.release)}
	for _, t := range k.tests {
		args := []string{"-test.v", "-test.count=1", "-test.timeout=" + k.opts.testTimeout.String()}
		if k.opts.run != "" {
			args = append(args, "-test.run="+k.opts.run)
		}
		spec.Tests = append(spec.Tests, vmspec.Test{Name: t.name, Dir: t.dir, Binary: t.binary, Args: args})
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, vmspec.SpecFile), b, 0o644)
}

func (k *kernelRun) absDir() string {
	d, err := filepath.Abs(k.dir)
	if err != nil {
		return k.dir
	}
	return d
}

// qemuArgs boots the kernel's uncompressed vmlinux through PVH under
// TCG, with no devices but the two 9p shares and the serial console.
func (k *kernelRun) qemuArgs(initramfs, results, console string) []string {
	return []string{
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
		"-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max",
		"-m", strconv.Itoa(k.opts.memory), "-smp", strconv.Itoa(k.opts.cpus),
		"-kernel", filepath.Join(k.dir, "vmlinux"), "-initrd", initramfs, "-append", cmdline,
		"-serial", "file:" + console,
		"-virtfs", "local,path=/,mount_tag=" + vmspec.HostRootTag + ",security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + results + ",mount_tag=" + vmspec.ResultsTag + ",security_model=none,multidevs=remap",
	}
}

// lastLines returns the last n non-empty lines of file, joined by " | ".
func lastLines(file string, n int) string {
	b, _ := os.ReadFile(file)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
