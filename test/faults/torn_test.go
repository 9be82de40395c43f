package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// tear is damage a crash or a full disk leaves in the image cache.
type tear struct {
	name string
	do   func(t *testing.T, dir, manifest string)
}

var tears = []tear{
	{"index.json cut short", func(t *testing.T, dir, _ string) {
		index := filepath.Join(dir, "index.json")
		b, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		overwrite(t, index, b[:len(b)/2])
	}},
	{"zero-length manifest", func(t *testing.T, dir, manifest string) {
		overwrite(t, blobFile(dir, manifest), nil)
	}},
	{"zero-length layer", func(t *testing.T, dir, manifest string) {
		blobs := imageBlobs(t, dir, manifest)
		overwrite(t, blobFile(dir, blobs[len(blobs)-1]), nil)
	}},
}

func blobFile(dir, dgst string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(dgst, "sha256:"))
}

// overwrite replaces a file's content (blobs are read-only: root writes
// them all the same).
func overwrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The agent is SIGKILLed while it runs a program from a registry image,
// and its image cache torn as a crash or a full disk mid-write tears it:
// index.json cut short, a zero-length manifest, a zero-length layer. Each
// time the agent starts again, keeps the program running (the same
// program: adopted from its pins), pulls again what the cache lost, and
// reports the program Ready.
func TestTornImageCache(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	dir := h.ownImages("")
	tp := tracepointCounter(s, "faults-torn-counter")
	t.Cleanup(func() { h.deleteAll(tp) })
	h.start("")
	c := s.stack.Client
	if err := c.Create(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	h.settle("the counter Ready", func(ctx context.Context) bool { return programReady(ctx, c, tp) })
	before := nodeEntry(t, c, tp.UID)
	digest := specDigest(context.Background(), c, tp.UID)
	if !readCache(t, dir).holdsOnly(t, dir, digest) {
		t.Fatalf("the cache does not hold the counter's image %s alone: %+v", digest, readCache(t, dir))
	}
	for _, tr := range tears {
		h.kill()
		tr.do(t, dir, digest)
		h.start("")
		h.settleCache("the cache healed after "+tr.name, dir, []string{digest}, func(ctx context.Context) bool {
			return programReady(ctx, c, tp)
		})
		checkRunsOn(t, h, tp, before, tr.name)
	}
	t.Logf("%d tears of the image cache, each after a SIGKILL: program %d ran on (adopted), the cache healed each time",
		len(tears), before.ProgramID)
}

// checkRunsOn asserts that the counter tp still runs as it did (before),
// pinned, and is the only counter of ours in the kernel.
func checkRunsOn(t *testing.T, h *host, tp *bpfleetv1.TracepointProgram, before bpfleetv1.NodeProgramStatus, after string) {
	t.Helper()
	st := nodeEntry(t, h.s.stack.Client, tp.UID)
	if st.ProgramID != before.ProgramID || st.State != bpfleetv1.StateReady {
		t.Errorf("after %s: program %d %s, want %d Ready (adopted, not reloaded)", after, st.ProgramID, st.State, before.ProgramID)
	}
	checkPins(t, st, "main")
	eventually(t, "the counters in the kernel after "+after, func() error {
		return sameIDs("tracepoint counters", counters(t), programIDs(st))
	})
}

// tmpfs mounts a tmpfs of size bytes at a new directory and unmounts it
// when the case ends, after stopping the agent.
func tmpfs(t *testing.T, h *host, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount a tmpfs at %s: %v", dir, err)
	}
	t.Cleanup(func() {
		h.stop()
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount the tmpfs at %s: %v", dir, err)
		}
	})
	return dir
}

// Sizes of the full-disk case: the cache's file system, and the padding
// that makes the big image larger than it.
const (
	smallDisk   = 1 << 20
	bigPadding  = 2 << 20
	enlargedTo  = 8 << 20
	smallDiskMB = smallDisk >> 20
)

// The agent, SIGKILLed while it runs a program, starts again on an empty
// image cache on a 1 MiB file system: it adopts the program and pulls its
// image again. A new program whose image is larger than the file system
// fails to pull (ImagePullFailed, no space left on device: transient)
// while the first runs on; once the file system is enlarged the new
// program comes up, and once it is deleted the cache holds the first
// image only.
func TestImageCacheFullDisk(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	disk := tmpfs(t, h, smallDisk)
	c := s.stack.Client
	small := tracepointCounter(s, "faults-small-counter")
	ref, _ := pushCounter(t, s, "big-counter", "v1", bigPadding)
	big := counterFrom(s, "faults-big-counter", ref)
	t.Cleanup(func() { h.deleteAll(small, big) })

	h.ownImages("")
	h.start("")
	if err := c.Create(context.Background(), small); err != nil {
		t.Fatal(err)
	}
	h.settle("the counter Ready", func(ctx context.Context) bool { return programReady(ctx, c, small) })
	before := nodeEntry(t, c, small.UID)
	digest := specDigest(context.Background(), c, small.UID)
	h.kill()
	h.ownImages(disk)
	h.start("")
	h.settleCache("the image pulled again onto the small disk", disk, []string{digest}, func(ctx context.Context) bool {
		return programReady(ctx, c, small)
	})
	checkRunsOn(t, h, small, before, "a restart on an empty cache")

	if err := c.Create(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	var failed bpfleetv1.NodeProgramStatus
	h.settle("the big image failing to pull", func(ctx context.Context) bool {
		st, ok := reported(ctx, c, big.UID)
		failed = st
		return ok && st.Reason == image.ReasonPullFailed
	})
	t.Logf("a %d MiB image on a %d MiB cache: %s: %s", bigPadding>>20, smallDiskMB, failed.Reason, failed.Message)
	if !strings.Contains(failed.Message, "no space left on device") || failed.Terminal {
		t.Errorf("the big program's failure does not say the disk is full, or is terminal: %+v", failed)
	}
	checkRunsOn(t, h, small, before, "a pull that filled the disk")

	if err := unix.Mount("tmpfs", disk, "tmpfs", unix.MS_REMOUNT, fmt.Sprintf("size=%d,mode=0700", enlargedTo)); err != nil {
		t.Fatalf("enlarge the tmpfs: %v", err)
	}
	h.settle("the big program Ready on the enlarged disk", func(ctx context.Context) bool { return programReady(ctx, c, big) })
	bigSt := nodeEntry(t, c, big.UID)
	checkPins(t, bigSt, "main")
	if err := c.Delete(context.Background(), big); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	h.settleCache("the big program gone and its image collected", disk, []string{digest}, func(ctx context.Context) bool {
		return gone(ctx, c, big)
	})
	checkRunsOn(t, h, small, before, "the big program came and went")
	t.Logf("cache after the big program went: %d bytes in %d blobs (the small image only)",
		readCache(t, disk).bytes(), len(readCache(t, disk).blobs))
}
