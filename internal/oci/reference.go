package oci

import (
	"fmt"
	"net"
	"strings"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// ErrInvalidReference is what the errors of ParseReference (and so of
// everything here that takes a reference) match with errors.Is: the
// reference itself is wrong, no registry was asked.
var ErrInvalidReference = errdef.ErrInvalidReference

// dockerHub is the registry host that short references ("nginx",
// "library/nginx") and "docker.io/..." refer to.
const (
	dockerHub        = "docker.io"
	dockerHubAPIHost = "registry-1.docker.io"
)

// ParseReference parses an image reference ("host/repo:tag",
// "host/repo@sha256:...", or a Docker Hub short name) into its parts.
func ParseReference(ref string) (registry.Reference, error) {
	r, err := registry.ParseReference(normalize(ref))
	if err != nil {
		return registry.Reference{}, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	return r, nil
}

// normalize adds the registry host that a reference without one implies, as
// the container runtimes do: "foo" is "docker.io/library/foo".
func normalize(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	if !found {
		ref = "library/" + ref
	}
	return dockerHub + "/" + ref
}

// Pinned returns "host/repo@digest" for an image reference (tag or digest)
// and the manifest digest it was resolved to.
func Pinned(ref, digest string) string {
	r, err := ParseReference(ref)
	if err != nil {
		return ref + "@" + digest
	}
	return r.Registry + "/" + r.Repository + "@" + digest
}

// PinnedDigest is the digest of a reference made by Pinned ("" if it has
// none).
func PinnedDigest(pinned string) string {
	if i := strings.LastIndex(pinned, "@"); i >= 0 {
		return pinned[i+1:]
	}
	return ""
}

// IsLoopback reports whether a registry host ("host" or "host:port") is on
// this machine, and so is spoken to over plain HTTP.
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
