package kconfig

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
)

// ErrNoConfig: the node has no kernel config to read CONFIG_* options
// from.
var ErrNoConfig = errors.New("no kernel config on this node")

// ErrNoOption: the kernel lacks a CONFIG_* option that an extern not
// declared __weak reads.
var ErrNoOption = errors.New("this kernel has no such option")

func isOption(name string) bool { return strings.HasPrefix(name, "CONFIG_") }

// putLinux sets one of the LINUX_* externs libbpf knows; another is 0 if
// weak, an error if not.
func putLinux(buf []byte, name string, typ btf.Type, weak bool, h host) error {
	var v uint64
	var err error
	switch name {
	case "LINUX_KERNEL_VERSION":
		v, err = h.kernelVersion()
	case "LINUX_HAS_SYSCALL_WRAPPER":
		v, err = syscallWrapper()
	case "LINUX_HAS_BPF_COOKIE":
		v = boolValue(features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetAttachCookie) == nil)
	default:
		if weak {
			return nil
		}
		return errors.New("not an extern the loader knows (LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER, LINUX_HAS_BPF_COOKIE, CONFIG_*)")
	}
	if err != nil {
		return err
	}
	return putInt(buf, typ, v)
}

// syscallWrapper says whether the kernel's syscalls have the architecture
// prefix (__x64_sys_bpf), as libbpf's LINUX_HAS_SYSCALL_WRAPPER does.
func syscallWrapper() (uint64, error) {
	prefix := map[string]string{"amd64": "__x64_", "arm64": "__arm64_", "s390x": "__s390x_", "riscv64": "__riscv_", "386": "__ia32_"}[runtime.GOARCH]
	if prefix == "" {
		return 0, nil
	}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return 0, fmt.Errorf("read kernel symbols: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasSuffix(s.Text(), " "+prefix+"sys_bpf") {
			return 1, nil
		}
	}
	return 0, s.Err()
}

// putOptions sets the CONFIG_* externs from the kernel config: a weak
// one the kernel lacks stays 0.
func putOptions(data []byte, options []btf.VarSecinfo, weak map[string]bool, configs []string) error {
	names := make([]string, len(options))
	for i, vsi := range options {
		names[i] = vsi.Type.TypeName()
	}
	config, err := readConfig(configs, names)
	if err != nil {
		return fmt.Errorf("%s externs %s: %w", Section, strings.Join(names, ", "), err)
	}
	for _, vsi := range options {
		name := vsi.Type.TypeName()
		value, ok := config[name]
		if !ok && weak[name] {
			continue
		}
		if !ok {
			return fmt.Errorf("%s extern %s: %w: it is not set in the kernel config (declare it __weak to read 0 instead)", Section, name, ErrNoOption)
		}
		if err := putValue(data[vsi.Offset:vsi.Offset+vsi.Size], varType(vsi), value); err != nil {
			return fmt.Errorf("%s extern %s=%s: %w", Section, name, value, err)
		}
	}
	return nil
}

// readConfig reads the options names from the first of the kernel
// config files paths that exists: "y", "m", a number or a quoted string.
// As libbpf, it reads only the lines that set an option: one "# CONFIG_X
// is not set" is absent.
func readConfig(paths, names []string) (map[string]string, error) {
	r, closeFn, err := openConfig(paths)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	out := map[string]string{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		name, value, ok := strings.Cut(s.Text(), "=")
		if ok && isOption(name) && slices.Contains(names, name) {
			out[name] = value
		}
	}
	return out, s.Err()
}

// openConfig opens the first of paths that exists, gunzipping a .gz.
func openConfig(paths []string) (io.Reader, func(), error) {
	for _, path := range paths {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("kernel config: %w", err)
		}
		if !strings.HasSuffix(path, ".gz") {
			return f, func() { f.Close() }, nil
		}
		z, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("kernel config %s: %w", path, err)
		}
		return z, func() { z.Close(); f.Close() }, nil
	}
	return nil, nil, fmt.Errorf("%w: none of %s exists (mount the host's /boot into the agent's pod, or run a kernel built with CONFIG_IKCONFIG_PROC)",
		ErrNoConfig, strings.Join(paths, ", "))
}

// putValue writes a config value into an extern of type typ, as libbpf
// does: bool (y, n), enum libbpf_tristate (y 1, m 2, n 0), char (the
// letter), an integer, or a char array (a quoted string).
func putValue(buf []byte, typ btf.Type, value string) error {
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		return putIntValue(buf, t, value)
	case *btf.Enum:
		if t.Name == "libbpf_tristate" {
			return putTristate(buf, value)
		}
	case *btf.Array:
		return putString(buf, value)
	}
	return putNumber(buf, typ, value)
}

func putIntValue(buf []byte, t *btf.Int, value string) error {
	switch {
	case t.Encoding&btf.Bool != 0:
		if value != "y" && value != "n" {
			return errors.New("not a bool (y or n): declare it a tristate or a char")
		}
		return putInt(buf, t, boolValue(value == "y"))
	case t.Encoding&btf.Char != 0 && t.Size == 1 && len(value) == 1:
		buf[0] = value[0]
		return nil
	}
	return putNumber(buf, t, value)
}

func putTristate(buf []byte, value string) error {
	v, ok := map[string]uint64{"n": 0, "y": 1, "m": 2}[value]
	if !ok {
		return errors.New("not a tristate (y, m or n)")
	}
	return putRaw(buf, v)
}

func putString(buf []byte, value string) error {
	s, err := strconv.Unquote(value)
	if err != nil || len(buf) == 0 {
		return errors.New("not a string, or the extern is not a char array")
	}
	copy(buf[:len(buf)-1], s)
	return nil
}

func putNumber(buf []byte, typ btf.Type, value string) error {
	if n, err := strconv.ParseInt(value, 0, 64); err == nil {
		return putInt(buf, typ, uint64(n))
	}
	n, err := strconv.ParseUint(value, 0, 64)
	if err != nil {
		return errors.New("not a number")
	}
	return putInt(buf, typ, n)
}

// putInt writes v into an integer or enum extern of buf's size, when it
// fits there as libbpf checks: v is two's complement where the extern is
// signed.
func putInt(buf []byte, typ btf.Type, v uint64) error {
	var signed bool
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		signed = t.Encoding&btf.Signed != 0
	case *btf.Enum:
		signed = t.Signed
	default:
		return fmt.Errorf("type %s is not an integer", typ)
	}
	if !fits(v, 8*len(buf), signed) {
		shown := strconv.FormatUint(v, 10)
		if signed {
			shown = strconv.FormatInt(int64(v), 10)
		}
		return fmt.Errorf("value %s does not fit in the extern's %d bytes", shown, len(buf))
	}
	return putRaw(buf, v)
}

// fits reports whether v, two's complement if signed, is a value of an
// integer of bits.
func fits(v uint64, bits int, signed bool) bool {
	switch {
	case bits >= 64:
		return true
	case signed:
		return v+1<<(bits-1) < 1<<bits
	}
	return v>>bits == 0
}

func putRaw(buf []byte, v uint64) error {
	switch len(buf) {
	case 1:
		buf[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(buf, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(buf, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(buf, v)
	default:
		return fmt.Errorf("a %d-byte integer", len(buf))
	}
	return nil
}

func boolValue(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
