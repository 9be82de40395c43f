package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestModuleOrder puts each module after what it depends on, leaves out
// the built-in ones and refuses one the kernel lacks.
func TestModuleOrder(t *testing.T) {
	dir := t.TempDir()
	dep := `kernel/fs/9p/9p.ko.xz: kernel/fs/netfs/netfs.ko.xz kernel/net/9p/9pnet.ko.xz
kernel/fs/netfs/netfs.ko.xz:
kernel/net/9p/9pnet.ko.xz:
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz
kernel/fs/overlayfs/overlay.ko.xz:
`
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modules.dep", dep)
	write("modules.builtin", "kernel/drivers/virtio/virtio_pci.ko\n")
	got, err := moduleOrder(dir, bootModules)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel/net/9p/9pnet.ko.xz", "kernel/net/9p/9pnet_virtio.ko.xz", "kernel/fs/netfs/netfs.ko.xz",
		"kernel/fs/9p/9p.ko.xz", "kernel/fs/overlayfs/overlay.ko.xz"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %q\nwant %q", got, want)
	}
	write("modules.builtin", "")
	if _, err := moduleOrder(dir, bootModules); err == nil {
		t.Fatal("no error for virtio_pci, neither a module nor built in")
	}
}
