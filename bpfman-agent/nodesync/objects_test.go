package nodesync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A pass reads an object file that several programs share once, not once
// per program: with a thousand programs the reads were megabytes of
// garbage each pass.
func TestPassReadsASharedObjectOnce(t *testing.T) {
	testkernel.Require(t)
	mnt := testkernel.TempBPFFS(t)
	m, err := programs.New(filepath.Join(mnt, "bpfleet"), programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	store, err := image.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(t.TempDir(), "counter.o")
	if err := os.WriteFile(obj, bpf.TracepointCounter, 0o644); err != nil {
		t.Fatal(err)
	}
	var desired []bpfleetv1.NodeProgram
	for i := range 3 {
		desired = append(desired, bpfleetv1.NodeProgram{
			UID: types.UID(fmt.Sprintf("shared-%d", i)), Kind: "TracepointProgram", Name: fmt.Sprintf("shared-%d", i),
			Path: obj, ProgramName: "count_openat", Attach: tracepointAt("syscalls/sys_enter_sethostname"),
		})
	}
	r := &Reconciler{Programs: m, Images: image.NewFetcher(store, nil)}
	t.Cleanup(func() { _ = m.Prune(nil) })
	opens := watchOpens(t, obj)
	statuses, _, err := r.applyAll(context.Background(), desired)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range statuses {
		if st.State != bpfleetv1.StateReady {
			t.Fatalf("%s: %s %s", st.UID, st.State, st.Message)
		}
	}
	if n := opens(); n != 1 {
		t.Errorf("a pass of 3 programs sharing %s opened it %d times, want once", obj, n)
	}
}

// watchOpens counts, from now on, how often path is opened (inotify; its
// closes are watched too, else the kernel merges consecutive opens into
// one event).
func watchOpens(t *testing.T, path string) func() int {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN|unix.IN_CLOSE); err != nil {
		t.Fatal(err)
	}
	return func() int {
		buf := make([]byte, 64*1024)
		n, err := unix.Read(fd, buf)
		if err == unix.EAGAIN {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for off := 0; off < n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&unix.IN_OPEN != 0 {
				count++
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
		return count
	}
}
