package loader_test

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// xdpPass is XDP_PASS, what the test programs return.
const xdpPass = 2

// TestGlobalsPerSection sets a global in each data section libbpf knows
// (.rodata, .data, .bss) through globalData; the program reads them all.
func TestGlobalsPerSection(t *testing.T) {
	testkernel.Require(t)
	objs := load(t, bpf.LibbpfGlobals, "read_globals", map[string]string{"ro_value": "11", "data_value": "22", "bss_value": "33"})
	defer objs.Close()
	got := runAndRead(t, objs, "seen", 3)
	for i, want := range []uint64{11, 22, 33} {
		if got[i] != want {
			t.Errorf("global %d (%s) = %d, want %d", i, []string{".rodata", ".data", ".bss"}[i], got[i], want)
		}
	}
}

// TestUnusedSectionsLoad loads a program from an object that carries
// sections the loader does not use (libxdp's .xdp_run_config,
// xdp_metadata, version, a "Dual MIT/GPL" license) and programs in many
// other sections: the program loads and runs.
func TestUnusedSectionsLoad(t *testing.T) {
	testkernel.Require(t)
	objs := load(t, bpf.LibbpfSections, "xdp_frags", nil)
	defer objs.Close()
	if got := runAndRead(t, objs, "runs", 1); got[0] != 1 {
		t.Errorf("runs = %d after one run, want 1", got[0])
	}
	if len(objs.Maps) != 1 {
		t.Errorf("maps %v, want only runs", objs.Maps)
	}
}

// runAndRead runs objs.Program once on an empty packet and reads the
// first n u64 entries of its map name.
func runAndRead(t *testing.T, objs *loader.Objects, name string, n int) []uint64 {
	t.Helper()
	ret, err := objs.Program.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	if err != nil || ret != xdpPass {
		t.Fatalf("test run: %d, %v; want XDP_PASS", ret, err)
	}
	out := make([]uint64, n)
	for i := range out {
		if err := objs.Maps[name].Lookup(uint32(i), &out[i]); err != nil {
			t.Fatalf("%s[%d]: %v", name, i, err)
		}
	}
	return out
}

// TestKconfigExterns loads an object reading .kconfig externs as libbpf
// objects declare them (a u32 typedef, __weak ones, a tristate, one no
// kernel has): each reads what this kernel and its config say.
func TestKconfigExterns(t *testing.T) {
	testkernel.Require(t)
	objs := load(t, bpf.LibbpfKconfig, "read_kconfig", nil)
	defer objs.Close()
	config := kernelConfig(t)
	want := []uint64{kernelVersion(t), yes(config["CONFIG_BPF_SYSCALL"]), 0, 0, tristate(config["CONFIG_BPF_JIT"])}
	if hz, err := strconv.ParseUint(config["CONFIG_HZ"], 10, 64); err == nil {
		want[3] = hz
	}
	got := runAndRead(t, objs, "seen", 5)
	for i, name := range []string{"LINUX_KERNEL_VERSION", "CONFIG_BPF_SYSCALL", "CONFIG_BPFLEET_NOT_AN_OPTION", "CONFIG_HZ", "CONFIG_BPF_JIT"} {
		if got[i] != want[i] {
			t.Errorf("%s = %d, want %d", name, got[i], want[i])
		}
	}
	if objs.Maps[".kconfig"] == nil {
		t.Errorf("maps %v: no .kconfig", objs.Maps)
	}
}

// kernelConfig reads this kernel's config as a test sees it.
func kernelConfig(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "cat /boot/config-$(uname -r) 2>/dev/null || zcat /proc/config.gz").Output()
	if err != nil {
		t.Fatalf("this test needs the kernel config (/boot or /proc/config.gz): %v", err)
	}
	config := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			config[k] = v
		}
	}
	return config
}

// kernelVersion is LINUX_KERNEL_VERSION as libbpf gives it: the release
// (uname -r), but on Debian the upstream version uname -v names (release
// 6.1.0-57-amd64 is "Debian 6.1.192-3", version 6.1.192).
func kernelVersion(t *testing.T) uint64 {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := exec.Command("uname", "-v").Output(); err == nil {
		if _, debian, ok := strings.Cut(string(v), "Debian "); ok {
			out = []byte(debian)
		}
	}
	var a, b, c uint64
	fmt.Sscanf(string(out), "%d.%d.%d", &a, &b, &c)
	return a<<16 | b<<8 | min(c, 255)
}

func yes(v string) uint64 {
	if v == "y" {
		return 1
	}
	return 0
}

func tristate(v string) uint64 { return map[string]uint64{"y": 1, "m": 2}[v] }
