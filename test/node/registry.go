package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/bpfleet/bpfleet/internal/images"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// startRegistry serves the node's registry, as a cluster's private one:
// over TLS with a certificate of the cluster's CA on the node's address
// (Registry), for containerd and the pods, and the same content over plain
// HTTP on loopback (PushRegistry) for the harness's pushes. It pushes the
// sandbox image.
func (c *Cluster) startRegistry(ctx context.Context) error {
	cert, key, err := c.pki.issue("registry", identity{name: "registry", server: true, ips: []net.IP{net.ParseIP(NodeIP)}})
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return err
	}
	handler := ocitest.Handler(nil)
	for _, l := range []struct {
		addr string
		host *string
		tls  *tls.Config
	}{
		{NodeIP + ":0", &c.Registry, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}},
		{"127.0.0.1:0", &c.PushRegistry, nil},
	} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		*l.host = ln.Addr().String()
		if l.tls != nil {
			ln = tls.NewListener(ln, l.tls)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		c.registries = append(c.registries, srv)
	}
	refs, err := c.PushImages(ctx, pauseImage)
	if err != nil {
		return err
	}
	c.PauseImage = refs[0]
	return nil
}

// stopRegistry stops serving the registry.
func (c *Cluster) stopRegistry() error {
	var errs []error
	for _, srv := range c.registries {
		errs = append(errs, srv.Close())
	}
	c.registries = nil
	return errors.Join(errs...)
}

// PushImages builds imgs for this machine's platform and pushes them to
// the node's registry, as bpfleet/<name>:dev, and returns the references
// the node pulls them by (its digest, on Registry).
func (c *Cluster) PushImages(ctx context.Context, imgs ...images.Image) ([]string, error) {
	opts := images.Options{Dir: c.root, CacheDir: filepath.Join(c.root, ".cache", "build"),
		Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}, Version: "dev"}
	var refs []string
	for _, img := range imgs {
		idx, err := images.Build(ctx, opts, img)
		if err != nil {
			return nil, err
		}
		digest, err := images.Push(ctx, idx, c.PushRegistry+"/bpfleet/"+img.Name+":dev")
		if err != nil {
			return nil, err
		}
		refs = append(refs, c.Registry+"/bpfleet/"+img.Name+"@"+digest)
	}
	return refs, nil
}
