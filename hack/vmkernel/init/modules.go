package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// moduleInitCompressedFile is finit_module's flag for a compressed
// module, which the kernel decompresses (CONFIG_MODULE_DECOMPRESS).
const moduleInitCompressedFile = 4

// loadModules loads the modules dir/order lists, one file name a line,
// in that order (dependencies first).
func loadModules(dir string) error {
	f, err := os.Open(filepath.Join(dir, "order"))
	if err != nil {
		return fmt.Errorf("list of modules: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); name != "" {
			if err := loadModule(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// loadModule loads the module in file; one already loaded is fine.
func loadModule(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(file, ".ko") {
		flags = moduleInitCompressedFile
	}
	err = unix.FinitModule(int(f.Fd()), "", flags)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", filepath.Base(file), err)
	}
	return nil
}
