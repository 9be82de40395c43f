package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// bootModules are the modules the init needs before the host's root is
// there: virtio's PCI transport (built in on some kernels), 9p over
// virtio and overlayfs. Their dependencies come along.
var bootModules = []string{"virtio_pci", "9pnet_virtio", "9p", "overlay"}

// writeInitramfs writes the VM's initramfs for the kernel whose unpacked
// package is in kdir: the init binary, /dev/console, and the boot
// modules with the order to load them in.
func writeInitramfs(out, kdir, release, initBin string) error {
	mods, err := moduleOrder(filepath.Join(kdir, "lib/modules", release), bootModules)
	if err != nil {
		return err
	}
	var a cpioArchive
	seen := map[string]bool{}
	for _, d := range []string{"dev", "proc", "sys", "modules", "lower", "rw", "newroot"} {
		a.dir(d, seen)
	}
	a.entry("dev/console", cpioChar|0o600, nil, 5, 1)
	if err := a.file("init", initBin, 0o755); err != nil {
		return err
	}
	var order []string
	for _, m := range mods {
		name := filepath.Base(m)
		if err := a.file("modules/"+name, filepath.Join(kdir, "lib/modules", release, m), 0o644); err != nil {
			return err
		}
		order = append(order, name)
	}
	a.entry("modules/order", cpioFile|0o644, []byte(strings.Join(order, "\n")+"\n"), 0, 0)
	return os.WriteFile(out, a.close(), 0o644)
}

// moduleOrder returns the files (relative to modDir) of the modules
// wanted and their dependencies, each after what it depends on, from
// depmod's modules.dep. A module built into the kernel is left out.
func moduleOrder(modDir string, wanted []string) ([]string, error) {
	deps, err := readModulesDep(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	builtin, err := os.ReadFile(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for file := range deps {
		byName[moduleName(file)] = file
	}
	var order []string
	done := map[string]bool{}
	var visit func(file string)
	visit = func(file string) {
		if done[file] {
			return
		}
		done[file] = true
		for _, d := range deps[file] {
			visit(d)
		}
		order = append(order, file)
	}
	for _, name := range wanted {
		file, ok := byName[name]
		switch {
		case ok:
			visit(file)
		case !isBuiltin(builtin, name):
			return nil, fmt.Errorf("kernel in %s has no module %s", modDir, name)
		}
	}
	return order, nil
}

// readModulesDep maps each module file to the files it depends on.
func readModulesDep(file string) (map[string][]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("modules of the VM kernel (run hack/vmkernel/fetch.sh): %w", err)
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if ok {
			deps[mod] = strings.Fields(rest)
		}
	}
	return deps, sc.Err()
}

// moduleName is the name of the module in file, as modprobe spells it.
func moduleName(file string) string {
	name, _, _ := strings.Cut(filepath.Base(file), ".ko")
	return strings.ReplaceAll(name, "-", "_")
}

// isBuiltin reports whether modules.builtin lists name.
func isBuiltin(builtin []byte, name string) bool {
	for _, line := range strings.Split(string(builtin), "\n") {
		if line != "" && moduleName(line) == name {
			return true
		}
	}
	return false
}
