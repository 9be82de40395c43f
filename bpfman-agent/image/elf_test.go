package image

import (
	"debug/elf"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestCheckELF(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := map[string]struct {
		b      []byte
		reason string
	}{
		"bpfel":       {read("counter.o"), ""},
		"bpfeb":       {read("counter_bpfeb.o"), ReasonWrongEndianness},
		"x86-64":      {read("notbpf.o"), ReasonNotBPF},
		"text":        {[]byte("#!/bin/sh\nexit 0\n"), ReasonNotBPF},
		"empty":       {nil, ReasonNotBPF},
		"header only": {read("counter.o")[:16], ReasonNotBPF},
		"bad order":   {append([]byte("\x7fELF\x02\x07"), make([]byte, 64)...), ReasonNotBPF},
		"32-bit bpf":  {elf32BPF(read("counter.o")), ReasonNotBPF},
	}
	if hostOrder != elf.ELFDATA2LSB { // big-endian host: the objects swap roles
		tests["bpfel"], tests["bpfeb"] = tests["bpfeb"], tests["bpfel"]
	}
	for name, tt := range tests {
		if err := CheckELF(tt.b); ReasonOf(err) != tt.reason {
			t.Errorf("%s: %v, want reason %q", name, err, tt.reason)
		}
	}
}

func elf32BPF(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[4] = 1 // ELFCLASS32
	return b
}

func TestReadPath(t *testing.T) {
	if _, err := ReadPath("testdata/counter.o"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPath("testdata/notbpf.o"); ReasonOf(err) != ReasonNotBPF {
		t.Fatalf("ReadPath(notbpf.o) = %v, want NotBPF", err)
	}
	if _, err := ReadPath("testdata/missing.o"); ReasonOf(err) != ReasonPullFailed {
		t.Fatalf("ReadPath(missing.o) = %v, want ImagePullFailed", err)
	}
}

func TestCheckPrograms(t *testing.T) {
	obj, err := os.ReadFile("testdata/counter.o")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPrograms(obj, map[string]string{"count_openat": "tracepoint"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"openat_count", "LICENSE", "missing"} { // a map, data, nothing
		if err := checkPrograms(obj, map[string]string{name: "tracepoint"}); ReasonOf(err) != ReasonInvalid {
			t.Errorf("program %s: %v, want InvalidImage", name, err)
		}
	}
}

// FuzzCheckObject feeds the ELF checks arbitrary objects: they must return
// nil or an *Error, never panic.
func FuzzCheckObject(f *testing.F) {
	for _, name := range []string{"counter.o", "counter_bpfeb.o", "notbpf.o"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		if err := CheckELF(obj); err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		err := checkPrograms(obj, map[string]string{"count_openat": "tracepoint"})
		if err != nil && ReasonOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// A path that is not a regular file is refused before it is opened:
// opening a device can act (/dev/watchdog arms the watchdog), opening a
// FIFO wakes its writer. Here a writer blocked on a FIFO must stay blocked.
func TestReadPathOpensNoDevice(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "object.o")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil { // blocks until a reader opens
			f.Close()
		}
		close(opened)
	}()
	if _, err := ReadPath(fifo); ReasonOf(err) != ReasonInvalid {
		t.Errorf("ReadPath(fifo) = %v, want InvalidImage", err)
	}
	select {
	case <-opened:
		t.Error("ReadPath opened the FIFO: a device would have been opened too")
	case <-time.After(200 * time.Millisecond):
	}
	if f, err := os.OpenFile(fifo, os.O_RDONLY, 0); err == nil { // release the writer
		<-opened
		f.Close()
	}
}
