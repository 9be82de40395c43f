package csi

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkPublish times what a pod's volume costs on its node: a
// publish and an unpublish of a volume of the counter's two maps,
// read-only and writable. Baselines in the same run: mounting and
// unmounting a bare BPF filesystem (the floor of any volume), and opening
// the two maps from the agent's pins as a hostPath consumer does.
func BenchmarkPublish(b *testing.B) {
	f := setup(b)
	f.load("r1", 0)
	b.Run("baseline=bpffs-mount-unmount", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "mnt")
		if err := os.Mkdir(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
				b.Fatal(err)
			}
			if err := unix.Unmount(dir, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=open-pins", func(b *testing.B) {
		for b.Loop() {
			for _, name := range []string{"counts", "total"} {
				m, err := f.node.Map(counterUID, name)
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		}
	})
	for _, readOnly := range []bool{true, false} {
		name := map[bool]string{true: "read-only", false: "read-write"}[readOnly]
		b.Run("volume="+name, func(b *testing.B) {
			v := f.newVolume("bench")
			for b.Loop() {
				if err := f.publish(v, "writer", readOnly, counterAttrs("counts,total")); err != nil {
					b.Fatal(err)
				}
				if err := f.unpublish(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
