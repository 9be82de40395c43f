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
	"github.com/bpfleet/bpfleet/internal/controlplane"
)

// attempts is how often a VM is booted before its kernel is reported as
// not run: under heavy load a TCG guest now and then locks up or panics
// at boot.
const attempts = 2

// cmdline is the guest kernel's command line. softlockup_panic and
// panic=-1 turn a lock-up into a reboot, which -no-reboot turns into
// qemu's exit (then a retry); no_timer_check avoids the "IO-APIC + timer
// doesn't work" panic of a slow TCG boot; lsm= activates BPF LSM. A vCPU
// the busy host does not run for a while looks locked up to the guest:
// the longest watchdog_thresh (a lock-up is twice that) and a long RCU
// stall timeout keep such pauses from counting as lock-ups.
var cmdline = strings.Join([]string{
	"console=ttyS0", "panic=-1", "softlockup_panic=1", "no_timer_check",
	"lsm=lockdown,capability,landlock,yama,apparmor,bpf", "watchdog_thresh=60",
	"rcupdate.rcu_cpu_stall_timeout=120", "mitigations=off", "loglevel=4",
}, " ")

// kernelRun is one kernel's VM runs and their outcome.
type kernelRun struct {
	opts    *options
	dir     string // the unpacked kernel package
	release string
	init    string
	tests   []builtTest

	// plane is the VM's API server on the host (options.apiserver).
	plane *controlplane.Plane

	results map[string]result // by test binary's name
	tries   []string          // why each failed attempt failed
	elapsed time.Duration
}

// result is how a test binary ended, and the folder of the attempt that
// ran it.
type result struct {
	vmspec.Result
	dir string
}

// run boots the VM at most attempts times, each time with the binaries
// that have not ended yet.
func (k *kernelRun) run() {
	start := time.Now()
	defer func() { k.elapsed = time.Since(start) }()
	k.results = map[string]result{}
	base := filepath.Join(k.opts.out, k.release)
	initramfs := filepath.Join(base, "initramfs.cpio")
	// No attempt of an earlier run may be taken for this one's.
	if err := os.RemoveAll(base); err != nil {
		k.tries = append(k.tries, err.Error())
		return
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		k.tries = append(k.tries, err.Error())
		return
	}
	if err := writeInitramfs(initramfs, k.dir, k.release, k.init); err != nil {
		k.tries = append(k.tries, fmt.Sprintf("initramfs: %v", err))
		return
	}
	if k.opts.apiserver {
		plane, err := controlplane.Start()
		if err != nil {
			k.tries = append(k.tries, err.Error())
			return
		}
		defer plane.Stop()
		k.plane = plane
	}
	for i := 1; i <= attempts; i++ {
		pending := k.pending()
		if len(pending) == 0 {
			return
		}
		dir := filepath.Join(base, "try"+strconv.Itoa(i))
		err := k.boot(initramfs, dir, pending)
		if rerr := k.collect(dir, pending); err == nil {
			err = rerr
		}
		if err != nil && len(k.pending()) > 0 {
			k.tries = append(k.tries, err.Error())
			fmt.Printf("vmkernel: %s: attempt %d failed: %v\n", k.release, i, err)
		}
	}
}

// pending lists the binaries with no result yet.
func (k *kernelRun) pending() []builtTest {
	var out []builtTest
	for _, t := range k.tests {
		if _, ok := k.results[t.name]; !ok {
			out = append(out, t)
		}
	}
	return out
}

// boot runs one VM, running tests, with its files in dir.
func (k *kernelRun) boot(initramfs, dir string, tests []builtTest) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := k.writeSpec(dir, tests); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.opts.timeout)
	defer cancel()
	console := filepath.Join(dir, "console.log")
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", k.qemuArgs(initramfs, dir, console)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("no power-off within %s (console: %s)", k.opts.timeout, console)
	}
	if err != nil {
		return fmt.Errorf("qemu: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// collect reads the Result of each of tests that ended in dir; it says
// why, if one did not.
func (k *kernelRun) collect(dir string, tests []builtTest) error {
	for _, t := range tests {
		b, err := os.ReadFile(filepath.Join(dir, t.name+vmspec.ResultSuffix))
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the VM stopped before %s ended: %s", t.name, lastLines(filepath.Join(dir, "console.log"), 3))
		}
		if err != nil {
			return err
		}
		var r vmspec.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if r.Kernel != k.release {
			return fmt.Errorf("the VM ran kernel %s, not %s", r.Kernel, k.release)
		}
		k.results[t.name] = result{Result: r, dir: dir}
	}
	return nil
}

// writeSpec writes what the VM runs: every test binary, verbose.
func (k *kernelRun) writeSpec(dir string, tests []builtTest) error {
	spec := vmspec.Spec{
		Modules: filepath.Join(k.absDir(), "lib/modules", k.release),
		Config:  filepath.Join(k.absDir(), "config"),
		Env:     k.opts.env,
	}
	if k.plane != nil {
		port, err := k.writeKubeconfig(filepath.Join(dir, kubeconfig))
		if err != nil {
			return err
		}
		spec.Forward = []int{port}
		spec.Env = append(spec.Env, controlplane.ExistingEnv+"="+vmspec.GuestResults+"/"+kubeconfig)
	}
	for _, t := range tests {
		args := []string{"-test.v", "-test.count=1", "-test.timeout=" + k.opts.testTimeout.String()}
		if t.run != "" {
			args = append(args, "-test.run="+t.run)
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
// TCG, with no devices but the two 9p shares and the serial console (and
// a network card, to the VM's API server on the host).
// One host thread runs all the vCPUs in turn (thread=single): with a
// thread per vCPU, the kernel patching its code live (text_poke, as a
// tracepoint is enabled) while another vCPU runs it now and then ends in
// an "Oops: int3" or a lock-up in syscall_trace_enter.
func (k *kernelRun) qemuArgs(initramfs, results, console string) []string {
	args := []string{
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
		"-machine", "q35", "-accel", "tcg,thread=single", "-cpu", "max",
		"-m", strconv.Itoa(k.opts.memory), "-smp", strconv.Itoa(k.opts.cpus),
		"-kernel", filepath.Join(k.dir, "vmlinux"), "-initrd", initramfs, "-append", cmdline,
		"-serial", "file:" + console,
		"-virtfs", "local,path=/,mount_tag=" + vmspec.HostRootTag + ",security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + results + ",mount_tag=" + vmspec.ResultsTag + ",security_model=none,multidevs=remap",
	}
	if k.plane != nil { // user-mode network: the guest reaches the host's loopback
		args = append(args, "-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0")
	}
	return args
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
