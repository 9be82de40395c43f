package nsenter

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A function run in a namespace sees it; the caller's goroutine, and the
// next one on that thread, stay in their own.
func TestRunEntersAndReturns(t *testing.T) {
	testkernel.Require(t)
	var kept *os.File
	err := Unshared(unix.CLONE_NEWNET, func() error {
		var err error
		kept, err = os.Open("/proc/thread-self/ns/net")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(kept.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	want := st.Ino
	// /proc/self names the main thread's, which Unshared may have taken
	// and left (wedged) in the new namespace: a thread's own is
	// /proc/thread-self.
	if own := inode(t, "/proc/thread-self/ns/net"); own == want {
		t.Fatal("the new namespace is the agent's own")
	}
	for range 20 { // the threads Run used serve other goroutines after it
		got, err := Run(kept, unix.CLONE_NEWNET, func() (uint64, error) {
			return inode(t, "/proc/thread-self/ns/net"), nil
		})
		if err != nil || got != want {
			t.Fatalf("in the namespace: inode %d, %v; want %d", got, err, want)
		}
		if here := inode(t, "/proc/thread-self/ns/net"); here == want {
			t.Fatal("the caller's thread is left in the namespace")
		}
	}
	if _, err := Run(kept, unix.CLONE_NEWUTS, func() (int, error) { return 0, nil }); err == nil {
		t.Error("a namespace type Run does not enter was entered")
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
