package csi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// stopGrace is how long a stopping server lets calls in flight finish.
const stopGrace = 5 * time.Second

// Serve serves the driver's Identity and Node services on the unix socket
// endpoint until ctx ends. With a registry directory (the kubelet's
// plugins_registry), it also serves the kubelet's plugin registration
// there, naming kubeletEndpoint, the socket's path as the kubelet sees it
// ("" for endpoint): the kubelet finds the socket, asks, and then calls
// the driver.
func (d *Driver) Serve(ctx context.Context, endpoint, registry, kubeletEndpoint string) error {
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	servers := []*grpc.Server{srv}
	sockets := []string{endpoint}
	if registry != "" {
		if kubeletEndpoint == "" {
			kubeletEndpoint = endpoint
		}
		reg := grpc.NewServer()
		registerapi.RegisterRegistrationServer(reg, &registration{endpoint: kubeletEndpoint, log: d.opts.Log})
		servers = append(servers, reg)
		sockets = append(sockets, filepath.Join(registry, DriverName+"-reg.sock"))
	}
	return serveAll(ctx, servers, sockets)
}

// serveAll serves each server on its socket until ctx ends or one fails,
// then stops them all and removes the sockets.
func serveAll(ctx context.Context, servers []*grpc.Server, sockets []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(servers))
	for i, srv := range servers {
		l, err := listen(sockets[i])
		if err != nil {
			cancel()
			stopAll(servers[:i], sockets[:i])
			return err
		}
		go func() { errs <- srv.Serve(l) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	stopAll(servers, sockets)
	return err
}

// listen listens on the unix socket path, replacing a socket left by an
// agent that stopped before (a regular file there is not replaced).
func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket != 0 {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the old socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}

// stopAll stops the servers, letting calls in flight finish for a
// while, and removes their sockets: the kubelet sees the plugin go.
func stopAll(servers []*grpc.Server, sockets []string) {
	for _, srv := range servers {
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopGrace):
			srv.Stop()
		}
	}
	for _, s := range sockets {
		_ = os.Remove(s) // else the next agent replaces it
	}
}

// registration answers the kubelet's plugin watcher: the driver's name,
// its socket and the CSI versions it speaks.
type registration struct {
	registerapi.UnimplementedRegistrationServer
	endpoint string
	log      logr.Logger
}

// GetInfo tells the kubelet what the plugin is.
func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type: registerapi.CSIPlugin, Name: DriverName, Endpoint: r.endpoint, SupportedVersions: []string{"1.0.0"},
	}, nil
}

// NotifyRegistrationStatus logs whether the kubelet took the plugin.
func (r *registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if s.GetPluginRegistered() {
		r.log.Info("registered with the kubelet", "driver", DriverName, "endpoint", r.endpoint)
	} else {
		r.log.Error(errors.New(s.GetError()), "the kubelet refused the plugin", "driver", DriverName)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}
