// Package ocitest runs a real OCI registry (go-containerregistry's in-process
// registry, with the referrers API) on a loopback address, optionally behind
// HTTP basic auth. Tests of any package use it, and so does the local
// development stack, which is why it is not a _test package.
//
// Content lives in memory and is lost on stop.
package ocitest
