package kconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// LINUX_KERNEL_VERSION is the upstream version a distribution's kernel is
// built from, as libbpf reads it: Ubuntu's /proc/version_signature, else
// Debian's "Debian a.b.c" in uname -v, else the release; the patch level
// capped at 255 as KERNEL_VERSION caps it.
func TestKernelVersionAsLibbpfReadsIt(t *testing.T) {
	for _, tc := range []struct {
		name, signature, release, version string
		want                              uint64
	}{
		{"ubuntu", "Ubuntu 5.15.0-91.101-generic 5.15.131\n", "5.15.0-91-generic", "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023", 5<<16 | 15<<8 | 131},
		{"debian", "", "6.1.0-26-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)", 6<<16 | 1<<8 | 112},
		{"release", "", "6.18.0-rc1+", "#1 SMP", 6<<16 | 18<<8},
		{"patch over 255", "", "4.19.325-cip", "#1 SMP", 4<<16 | 19<<8 | 255},
		{"unreadable signature", "Ubuntu garbage\n", "5.4.0-12-generic", "#13-Ubuntu", 5<<16 | 4<<8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := host{release: tc.release, version: tc.version, signature: filepath.Join(t.TempDir(), "version_signature")}
			if tc.signature != "" {
				writeFile(t, h.signature, tc.signature)
			}
			if got, err := h.kernelVersion(); err != nil || got != tc.want {
				t.Errorf("LINUX_KERNEL_VERSION = %#x, %v; want %#x", got, err, tc.want)
			}
		})
	}
	if _, err := (host{release: "weird"}).kernelVersion(); err == nil || !strings.Contains(err.Error(), "weird") {
		t.Errorf("release %q: error %v, want one naming it", "weird", err)
	}
}

// A config option the node's config lacks, or has as "# CONFIG_X is not
// set" (libbpf reads only the lines that set one), reads 0 in a __weak
// extern; a plain extern fails the load naming it; a node without any
// config says what to mount. The object is loaded and run: its program
// reads what its externs hold.
func TestOptionTheConfigLacks(t *testing.T) {
	testkernel.Require(t)
	h := host{release: "6.1.0-26-amd64", version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)",
		configs: []string{filepath.Join(t.TempDir(), "config")}}
	writeFile(t, h.configs[0], "CONFIG_BPF_SYSCALL=y\n# CONFIG_BPF_JIT is not set\nCONFIG_HZ_1000=y\n")
	seen := runKconfig(t, h)
	for i, want := range []uint64{6<<16 | 1<<8 | 112, 1, 0, 0, 0} {
		if seen[i] != want {
			t.Errorf("seen[%d] = %d, want %d (LINUX_KERNEL_VERSION, CONFIG_BPF_SYSCALL, a missing option, CONFIG_HZ, CONFIG_BPF_JIT)", i, seen[i], want)
		}
	}
	for _, config := range []string{"CONFIG_HZ=250\n", "# CONFIG_BPF_SYSCALL is not set\n"} {
		writeFile(t, h.configs[0], config)
		_, err := resolveKconfig(t, h)
		if !errors.Is(err, ErrNoOption) || !strings.Contains(err.Error(), "CONFIG_BPF_SYSCALL") || !strings.Contains(err.Error(), "__weak") {
			t.Errorf("config %q: %v, want ErrNoOption naming CONFIG_BPF_SYSCALL and the __weak way out", config, err)
		}
	}
	h.configs = []string{filepath.Join(t.TempDir(), "config-none"), filepath.Join(t.TempDir(), "config.gz")}
	if _, err := resolveKconfig(t, h); !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "mount the host's /boot") {
		t.Errorf("no config: %v, want ErrNoConfig saying what to mount", err)
	}
}

// A value that does not fit in its extern (CONFIG_HZ=1000 in a u8, -1 in
// an unsigned one, the kernel version in a u16) fails with the value and
// the size, as libbpf's range check does, instead of being truncated;
// values at the edges of a signed or unsigned type fit.
func TestValueRange(t *testing.T) {
	u8, s8 := &btf.Int{Name: "u8", Size: 1}, &btf.Int{Name: "s8", Size: 1, Encoding: btf.Signed}
	u16, u32 := &btf.Int{Name: "u16", Size: 2}, &btf.Int{Name: "u32", Size: 4}
	s64 := &btf.Int{Name: "s64", Size: 8, Encoding: btf.Signed}
	for _, tc := range []struct {
		name  string
		typ   btf.Type
		value string
		want  []byte // nil: an error
	}{
		{"CONFIG_HZ", u8, "1000", nil},
		{"CONFIG_HZ", u8, "255", []byte{255}},
		{"CONFIG_NR_CPUS", s8, "127", []byte{127}},
		{"CONFIG_NR_CPUS", s8, "-128", []byte{0x80}},
		{"CONFIG_NR_CPUS", s8, "128", nil},
		{"CONFIG_NR_CPUS", s8, "-129", nil},
		{"CONFIG_BASE", u32, "-1", nil},
		{"CONFIG_BASE", u32, "0xffffffff", []byte{0xff, 0xff, 0xff, 0xff}},
		{"CONFIG_BASE", s64, "-1", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"LINUX_KERNEL_VERSION", u16, "", nil},
	} {
		h := host{release: "6.18.0", configs: []string{filepath.Join(t.TempDir(), "config")}}
		writeFile(t, h.configs[0], tc.name+"="+tc.value+"\n")
		size := tc.typ.(*btf.Int).Size
		ds := &btf.Datasec{Name: Section, Size: size, Vars: []btf.VarSecinfo{{Type: &btf.Var{Name: tc.name, Type: tc.typ}, Size: size}}}
		got, err := values(ds, nil, h)
		switch {
		case tc.want == nil && (err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "does not fit")):
			t.Errorf("%s=%s in a %s: %x, %v; want an error naming it and saying it does not fit", tc.name, tc.value, tc.typ.TypeName(), got, err)
		case tc.want != nil && (err != nil || string(got) != string(tc.want)):
			t.Errorf("%s=%s in a %s: %x, %v; want %x", tc.name, tc.value, tc.typ.TypeName(), got, err, tc.want)
		}
	}
}

// resolveKconfig resolves the externs of libbpf_kconfig.o from h.
func resolveKconfig(t *testing.T, h host) (*ebpf.CollectionSpec, error) {
	t.Helper()
	spec, weak, err := ParseSpec(bpf.LibbpfKconfig)
	if err != nil {
		t.Fatal(err)
	}
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(Section, &ds); err != nil {
		t.Fatal(err)
	}
	return spec, resolve(spec, ds, weak, h)
}

// runKconfig loads libbpf_kconfig.o with its externs from h, runs
// read_kconfig once and returns what it saw.
func runKconfig(t *testing.T, h host) []uint64 {
	t.Helper()
	spec, err := resolveKconfig(t, h)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	if _, err := coll.Programs["read_kconfig"].Run(&ebpf.RunOptions{Data: make([]byte, 64)}); err != nil {
		t.Fatal(err)
	}
	seen := make([]uint64, 5)
	for i := range seen {
		if err := coll.Maps["seen"].Lookup(uint32(i), &seen[i]); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
