package attach_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestUprobeCounts(t *testing.T) {
	testkernel.Require(t)
	path, run := testkernel.TargetBinary(t)
	for _, ret := range []bool{false, true} {
		u := attach.Uprobe{Target: path, Function: testkernel.TargetFunction, Retprobe: ret}
		t.Run(strings.Fields(u.String())[0], func(t *testing.T) {
			prog, calls := loadCounter(t, bpf.UprobeCounter, "count_calls")
			a, err := u.Attach(prog)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Link.Close()
			if !strings.HasPrefix(a.Detail, strings.Fields(u.String())[0]+" "+path+":") {
				t.Errorf("detail %q does not name the kind and file", a.Detail)
			}
			run(7)
			run(0)
			if got := lookup(t, calls, 0); got != 7 {
				t.Fatalf("%s counted %d calls, want 7", u, got)
			}
		})
	}
}

// TestUprobeInRoot attaches to a binary in a container-like root through
// an absolute symbolic link, resolved inside the root.
func TestUprobeInRoot(t *testing.T) {
	testkernel.Require(t)
	path, _ := testkernel.TargetBinary(t)
	root := fakeRoot(t, path)
	prog, calls := loadCounter(t, bpf.UprobeCounter, "count_calls")
	u := attach.Uprobe{Root: root, Target: "/usr/bin/target", Function: testkernel.TargetFunction}
	a, err := u.Attach(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Link.Close()
	if want := "uprobe " + root + "/usr/bin/target:"; !strings.HasPrefix(a.Detail, want) {
		t.Errorf("detail %q, want prefix %q", a.Detail, want)
	}
	runIn(t, root+"/opt/target", 3)
	if got := lookup(t, calls, 0); got != 3 {
		t.Fatalf("counted %d calls, want 3", got)
	}
}

func TestUprobeResolveLibrary(t *testing.T) {
	path, err := attach.Uprobe{Target: "libc", Function: "getpid"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(path), "libc.so") {
		t.Errorf("libc resolved to %s", path)
	}
	_, err = attach.Uprobe{Target: "libbpfleet_absent", Function: "f"}.Resolve()
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent library: err = %v, want not-exist", err)
	}
}

// TestUprobeResolveInRoot checks that a root's own ld.so.cache and files
// are used, and that nothing leads out of the root.
func TestUprobeResolveInRoot(t *testing.T) {
	host, _ := testkernel.TargetBinary(t)
	root := fakeRoot(t, host)
	writeLDCache(t, root, map[string]string{"libtarget.so.1": "/opt/target", "libtext.so.1": "/opt/text"})
	must(t, os.WriteFile(root+"/opt/text", []byte("INPUT(-lc)\n"), 0o644))
	must(t, os.Symlink(host, root+"/usr/bin/escape"))
	must(t, os.Symlink("../../../../../../.."+host, root+"/usr/bin/dotdot"))
	must(t, syscall.Mkfifo(root+"/usr/bin/fifo", 0o644))

	for _, tc := range []struct{ target, want string }{
		{"libtarget", "/opt/target"},
		{"libtarget.so.1", "/opt/target"},
		{"/usr/bin/target", "/usr/bin/target"},
		{"libtext", ""},         // not an ELF file
		{"/usr/bin/escape", ""}, // absolute link to the host's file
		{"/usr/bin/dotdot", ""}, // relative link climbing out
		{"/usr/bin/fifo", ""},   // would block a plain open
		{"/usr/bin", ""},        // a directory
		{"libabsent", ""},
	} {
		start := time.Now()
		got, err := attach.Uprobe{Root: root, Target: tc.target, Function: "f"}.Resolve()
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("Resolve(%s) = %q, %v; want %q", tc.target, got, err, tc.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Resolve(%s) took %v", tc.target, d)
		}
	}
}

func TestUprobeValidate(t *testing.T) {
	for _, tc := range []struct {
		u  attach.Uprobe
		ok bool
	}{
		{attach.Uprobe{Target: "/usr/bin/bash", Function: "readline"}, true},
		{attach.Uprobe{Target: "libc", Function: "malloc", Retprobe: true, PID: 1}, true},
		{attach.Uprobe{Target: "libssl.so.3", Function: "SSL_write"}, true},
		{attach.Uprobe{Target: "/bin/x", Offset: 0x1234}, true},
		{attach.Uprobe{Target: "/bin/x", Function: "_ZN3foo3barEv"}, true},
		{attach.Uprobe{Target: "/bin/x", Function: "memcpy@GLIBC_2.2.5"}, true},
		{attach.Uprobe{Target: "/bin/x", Function: "f", Root: "/proc/42/root"}, true},
		{attach.Uprobe{Target: "/bin/x"}, false},
		{attach.Uprobe{Target: "", Function: "f"}, false},
		{attach.Uprobe{Target: "bin/x", Function: "f"}, false},
		{attach.Uprobe{Target: "/bin/../etc/x", Function: "f"}, false},
		{attach.Uprobe{Target: "/bin//x", Function: "f"}, false},
		{attach.Uprobe{Target: "/bin/x/", Function: "f"}, false},
		{attach.Uprobe{Target: "..", Function: "f"}, false},
		{attach.Uprobe{Target: ".libc", Function: "f"}, false},
		{attach.Uprobe{Target: "lib c", Function: "f"}, false},
		{attach.Uprobe{Target: "/bin/x", Function: "f;rm"}, false},
		{attach.Uprobe{Target: "/bin/x", Function: "1f"}, false},
		{attach.Uprobe{Target: "/bin/x", Function: "f", PID: -1}, false},
		{attach.Uprobe{Target: "/bin/x", Function: "f", Root: "proc/1/root"}, false},
		{attach.Uprobe{Target: "/bin/x", Function: "f", Root: "/proc/1/../1/root"}, false},
	} {
		if err := tc.u.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.u, err, tc.ok)
		}
	}
}

func TestUprobeMissing(t *testing.T) {
	testkernel.Require(t)
	path, _ := testkernel.TargetBinary(t)
	prog := program(t, ebpf.Kprobe)
	for _, u := range []attach.Uprobe{
		{Target: path, Function: "no_such_function"},
		{Target: path + ".absent", Function: testkernel.TargetFunction},
	} {
		if a, err := u.Attach(prog); err == nil {
			a.Link.Close()
			t.Errorf("attached %s", u)
		} else if errors.Is(err, ebpf.ErrNotSupported) {
			t.Errorf("%s: %v: a missing target is not an unsupported kernel", u, err)
		}
	}
}

// FuzzLDCache feeds a root's ld.so.cache, which a container controls, to
// the library lookup.
func FuzzLDCache(f *testing.F) {
	if data, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		f.Add(data)
	}
	f.Add(ldCache(map[string]string{"libc.so.6": "/lib/libc.so.6"}))
	f.Add([]byte("glibc-ld.so.cache1.1\xff\xff\xff\xff"))
	root := f.TempDir()
	must(f, os.Mkdir(root+"/etc", 0o755))
	f.Fuzz(func(t *testing.T, data []byte) {
		must(t, os.WriteFile(root+"/etc/ld.so.cache", data, 0o644))
		path, err := attach.Uprobe{Root: root, Target: "libc", Function: "f"}.Resolve()
		if err == nil {
			t.Fatalf("resolved libc to %s in an empty root", path)
		}
	})
}

// fakeRoot makes a directory tree with the binary at /opt/target and an
// absolute symbolic link to it at /usr/bin/target.
func fakeRoot(tb testing.TB, binary string) string {
	tb.Helper()
	root := tb.TempDir()
	for _, dir := range []string{"/opt", "/usr/bin", "/etc"} {
		must(tb, os.MkdirAll(root+dir, 0o755))
	}
	data, err := os.ReadFile(binary)
	must(tb, err)
	must(tb, os.WriteFile(root+"/opt/target", data, 0o755))
	must(tb, os.Symlink("/opt/target", root+"/usr/bin/target"))
	return root
}

func runIn(tb testing.TB, binary string, n int) {
	tb.Helper()
	if out, err := exec.Command(binary, strconv.Itoa(n)).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", binary, err, out)
	}
}

func writeLDCache(tb testing.TB, root string, libs map[string]string) {
	tb.Helper()
	must(tb, os.WriteFile(root+"/etc/ld.so.cache", ldCache(libs), 0o644))
}

// ldCache builds an ld.so.cache in glibc's format (1.1).
func ldCache(libs map[string]string) []byte {
	const header, entry = 48, 24
	var strs bytes.Buffer
	base := header + entry*len(libs)
	var entries []byte
	for name, path := range libs {
		e := make([]byte, entry)
		binary.NativeEndian.PutUint32(e[0:], 0x0303)
		binary.NativeEndian.PutUint32(e[4:], uint32(base+strs.Len()))
		strs.WriteString(name + "\x00")
		binary.NativeEndian.PutUint32(e[8:], uint32(base+strs.Len()))
		strs.WriteString(path + "\x00")
		entries = append(entries, e...)
	}
	h := make([]byte, header)
	copy(h, "glibc-ld.so.cache1.1")
	binary.NativeEndian.PutUint32(h[20:], uint32(len(libs)))
	binary.NativeEndian.PutUint32(h[24:], uint32(strs.Len()))
	return append(append(h, entries...), strs.Bytes()...)
}

// loadCounter loads program from a counter object and returns it with
// its map calls.
func loadCounter(tb testing.TB, obj []byte, program string) (*ebpf.Program, *ebpf.Map) {
	tb.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	must(tb, err)
	coll, err := ebpf.NewCollection(spec)
	must(tb, err)
	tb.Cleanup(func() { coll.Close() })
	return coll.Programs[program], coll.Maps["calls"]
}

func lookup(tb testing.TB, m *ebpf.Map, key uint32) uint64 {
	tb.Helper()
	var v uint64
	must(tb, m.Lookup(key, &v))
	return v
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
