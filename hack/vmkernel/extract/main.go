// Command extract writes the uncompressed ELF vmlinux held in a bzImage
// (a distribution's /boot/vmlinuz), which qemu boots directly through
// its PVH entry point: no decompression in the guest, which under TCG
// takes seconds.
//
//	go run ./hack/vmkernel/extract vmlinuz vmlinux
//
// The payload is decompressed by xz or zstd (xz-utils, zstd), whichever
// the kernel was built with.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: extract vmlinuz vmlinux")
		os.Exit(2)
	}
	if err := extract(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

// decompressors maps a payload's magic number to the command that
// decompresses it from stdin to stdout.
var decompressors = []struct {
	magic []byte
	cmd   []string
}{
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, []string{"xz", "-dc"}},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"zstd", "-dcq", "--long=31"}},
	{[]byte{0x1f, 0x8b}, []string{"gzip", "-dc"}},
}

// extract decompresses bzImage's payload into out.
func extract(bzImage, out string) error {
	img, err := os.ReadFile(bzImage)
	if err != nil {
		return err
	}
	payload, err := payloadOf(img)
	if err != nil {
		return fmt.Errorf("%s: %w", bzImage, err)
	}
	for _, d := range decompressors {
		if !bytes.HasPrefix(payload, d.magic) {
			continue
		}
		return decompress(d.cmd, payload, out)
	}
	return fmt.Errorf("%s: payload compressed with an unknown method (magic % x)", bzImage, payload[:4])
}

// payloadOf returns the compressed kernel in a bzImage, as its setup
// header (Documentation/arch/x86/boot.rst) locates it.
func payloadOf(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage (no HdrS setup header)")
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects + 1) * 512
	off := int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if start+off+n > len(img) || n < 4 {
		return nil, errors.New("payload outside the file")
	}
	// The build appends the uncompressed size (4 bytes) to the stream,
	// which the decompressors take for garbage.
	return img[start+off : start+off+n-4], nil
}

// decompress runs cmd on payload and writes its output to out, through a
// temporary file so that a failure leaves no partial vmlinux.
func decompress(cmd []string, payload []byte, out string) error {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(payload), f, os.Stderr
	err = c.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("decompress with %s: %w", cmd[0], err)
	}
	return os.Rename(tmp, out)
}
