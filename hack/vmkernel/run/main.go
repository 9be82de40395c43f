// Command run runs test binaries on other kernels than the host's: one
// qemu VM per kernel (TCG, no KVM needed), all kernels in parallel, each
// with a timeout and one retry, and reports each test's outcome per
// kernel.
//
//	go run ./hack/vmkernel/run [-run regexp] [-kernels dir,dir] [-apiserver] [package[:regexp]...]
//
// The kernels are Debian's, which hack/vmkernel/fetch.sh puts in
// .cache/vmkernels/ (it runs when -kernels is not given). The packages
// (by default every package whose tests use the kernel; package:regexp
// runs only the package's tests matching regexp) are compiled with
// `go test -c`; a VM's root is the host's, read-only over 9p under a
// tmpfs, so the binaries run as they would on the host, as root, with
// the guest kernel's own bpffs, tracefs, debugfs and cgroup2 (see
// hack/vmkernel/init). Each run's files (spec, each binary's output, the
// console) are kept in .cache/vmkernels/runs/<kernel>/try<n>/, and every
// test's verdict per kernel in .cache/vmkernels/runs/results.tsv.
//
// The exit status is 0 only if every binary passed on every kernel.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// defaultPackages are every package whose tests use the kernel, and the
// kinds whose hooks a kernel may lack through the whole system (their
// API server on the host: -apiserver).
var defaultPackages = []string{
	"./bpf", "./bpfman-agent/attach", "./bpfman-agent/csi", "./bpfman-agent/loader", "./bpfman-agent/mappolicy", "./bpfman-agent/maps",
	"./bpfman-agent/metrics", "./bpfman-agent/nodesync", "./bpfman-agent/pins", "./bpfman-agent/probe",
	"./bpfman-agent/programs", "./internal/kconfig", "./test/e2e:TestKernelHookKinds",
}

// options are the command line's.
type options struct {
	kernels     []string
	packages    []string
	run         string
	out         string
	timeout     time.Duration
	testTimeout time.Duration
	memory      int
	cpus        int
	env         []string
	// apiserver gives each VM an API server of its own, on the host.
	apiserver bool
}

func main() {
	// envtest (the VMs' API servers) logs through controller-runtime.
	ctrllog.SetLogger(logr.Discard())
	opts, err := parseFlags()
	if err == nil {
		err = runAll(opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmkernel:", err)
		os.Exit(1)
	}
}

func parseFlags() (*options, error) {
	o := &options{}
	kernels := flag.String("kernels", "", "comma-separated folders of unpacked kernels (default: hack/vmkernel/fetch.sh's)")
	flag.StringVar(&o.run, "run", "", "run only the tests matching this regexp (go test -run)")
	flag.StringVar(&o.out, "out", ".cache/vmkernels/runs", "folder for each kernel's run")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "time a VM may take, boot to power-off, before it is killed and tried again")
	flag.DurationVar(&o.testTimeout, "test-timeout", 10*time.Minute, "go test -timeout of each binary")
	flag.IntVar(&o.memory, "memory", 2048, "MiB of memory of each VM")
	flag.IntVar(&o.cpus, "cpus", 2, "CPUs of each VM")
	flag.BoolVar(&o.apiserver, "apiserver", false, "start an API server (kube-apiserver and etcd, internal/controlplane) on the host for each VM, which its tests use instead of starting one (envtest under TCG is slow)")
	flag.Func("env", "KEY=VALUE added to the test binaries' environment (repeatable), e.g. KUBEBUILDER_CONTROLPLANE_START_TIMEOUT=5m for envtest under TCG", func(kv string) error {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		o.env = append(o.env, kv)
		return nil
	})
	flag.Parse()
	o.packages = flag.Args()
	if len(o.packages) == 0 {
		o.packages = defaultPackages
	}
	if *kernels != "" {
		o.kernels = strings.Split(*kernels, ",")
		return o, nil
	}
	out, err := exec.Command("hack/vmkernel/fetch.sh").Output()
	if err != nil {
		return nil, fmt.Errorf("hack/vmkernel/fetch.sh: %w", err)
	}
	o.kernels = strings.Fields(string(out))
	return o, nil
}

// runAll builds the binaries and the init, runs every kernel's VM in
// parallel and prints the report.
func runAll(o *options) error {
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	o.out = out
	start := time.Now()
	tests, initBin, err := build(o)
	if err != nil {
		return err
	}
	fmt.Printf("vmkernel: built %d test binaries and the init in %s\n", len(tests), time.Since(start).Round(time.Second))
	runs := make([]*kernelRun, len(o.kernels))
	var wg sync.WaitGroup
	for i, k := range o.kernels {
		runs[i] = &kernelRun{opts: o, dir: k, release: filepath.Base(k), init: initBin, tests: tests}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i].run()
		}()
	}
	wg.Wait()
	table, err := os.Create(filepath.Join(o.out, "results.tsv"))
	if err != nil {
		return err
	}
	defer table.Close()
	ok := report(os.Stdout, table, runs)
	fmt.Printf("vmkernel: %d kernels in %s; every test's verdict in %s\n", len(runs), time.Since(start).Round(time.Second), table.Name())
	if !ok {
		return fmt.Errorf("tests failed or did not run (outputs in %s)", o.out)
	}
	return nil
}

// build compiles each package's tests and the init into o.out/bin.
func build(o *options) ([]builtTest, string, error) {
	bin := filepath.Join(o.out, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, "", err
	}
	initBin := filepath.Join(bin, "init")
	cmd := exec.Command("go", "build", "-o", initBin, "./hack/vmkernel/init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("build the init: %w\n%s", err, out)
	}
	var tests []builtTest
	for _, arg := range o.packages {
		pkg, run, _ := strings.Cut(arg, ":")
		dir, err := filepath.Abs(pkg)
		if err != nil {
			return nil, "", err
		}
		name := strings.ReplaceAll(strings.TrimPrefix(filepath.Clean(pkg), "./"), "/", "_")
		binary := filepath.Join(bin, name+".test")
		if out, err := exec.Command("go", "test", "-c", "-o", binary, pkg).CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("go test -c %s: %w\n%s", pkg, err, out)
		}
		tests = append(tests, builtTest{name: name, dir: dir, binary: binary, run: cmp.Or(run, o.run)})
	}
	return tests, initBin, nil
}

// builtTest is one package's test binary, and the tests of it to run
// (go test -run; "": all).
type builtTest struct {
	name, dir, binary, run string
}
