package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is a file or directory of the layer.
type entry struct {
	path string
	mode int64 // with tar.TypeDir's meaning when data is nil
	uid  int
	data []byte
}

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// entries are the layer's content, parents before children.
func entries(name string, bin, ca []byte) []entry {
	return []entry{
		{path: "etc/", mode: 0o755},
		{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "etc/group", mode: 0o644, data: []byte(group)},
		{path: "etc/ssl/", mode: 0o755},
		{path: "etc/ssl/certs/", mode: 0o755},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{path: "home/", mode: 0o755},
		{path: "home/nonroot/", mode: 0o700, uid: 65532},
		{path: "root/", mode: 0o700},
		{path: name, mode: 0o755, data: bin},
	}
}

// newLayer returns the gzipped OCI layer of the entries, every one dated
// mtime and owned by its uid (its gid alike).
func newLayer(name string, bin, ca []byte, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries(name, bin, ca) {
		if err := writeEntry(tw, e, mtime); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }
	return tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	h := &tar.Header{
		Name:    e.path,
		Mode:    e.mode,
		Uid:     e.uid,
		Gid:     e.uid,
		ModTime: mtime,
	}
	if e.data == nil {
		h.Typeflag = tar.TypeDir
	} else {
		h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(e.data)
	return err
}

// readCABundle reads the host's CA bundle from the first of the usual
// places that holds one.
func readCABundle() ([]byte, error) {
	for _, f := range caBundles {
		if b, err := os.ReadFile(f); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no CA bundle in %v: install ca-certificates", caBundles)
}

// caBundles are where distributions keep the CA bundle (crypto/x509's
// list, in its order).
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}
