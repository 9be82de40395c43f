package main

import (
	"bytes"
	"fmt"
	"os"
	"path"
)

// cpioArchive writes an initramfs: a cpio archive in the "newc" format
// the kernel unpacks (Documentation/driver-api/early-userspace).
type cpioArchive struct {
	buf bytes.Buffer
	ino int
}

// Mode bits of the entries.
const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
	cpioChar = 0o020000
)

// entry appends one entry; rdev is "major:minor" of a device.
func (a *cpioArchive) entry(name string, mode int, data []byte, rdevMajor, rdevMinor int) {
	a.ino++
	nlink := 1
	if mode&cpioDir != 0 {
		nlink = 2
	}
	fmt.Fprintf(&a.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		a.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	a.buf.WriteString(name)
	a.buf.WriteByte(0)
	a.pad()
	a.buf.Write(data)
	a.pad()
}

// pad aligns the archive on 4 bytes.
func (a *cpioArchive) pad() {
	for a.buf.Len()%4 != 0 {
		a.buf.WriteByte(0)
	}
}

// dir appends a folder and its parents not yet in the archive.
func (a *cpioArchive) dir(name string, seen map[string]bool) {
	if name == "." || name == "/" || seen[name] {
		return
	}
	a.dir(path.Dir(name), seen)
	seen[name] = true
	a.entry(name, cpioDir|0o755, nil, 0, 0)
}

// file appends a file read from the host.
func (a *cpioArchive) file(name, src string, perm int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	a.entry(name, cpioFile|perm, b, 0, 0)
	return nil
}

// close appends the trailer and returns the archive.
func (a *cpioArchive) close() []byte {
	a.entry("TRAILER!!!", 0, nil, 0, 0)
	return a.buf.Bytes()
}
