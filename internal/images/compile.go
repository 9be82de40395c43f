package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/bpfleet/bpfleet/internal/buildinfo"
)

// compile cross-compiles img's package for p into the cache directory,
// a static stripped binary, and returns its content.
func compile(ctx context.Context, opts Options, img Image, p v1.Platform) ([]byte, error) {
	out := filepath.Join(opts.CacheDir, platformDir(p), img.Name)
	stamp := buildinfo.Stamp{Version: opts.Version, Revision: opts.Revision}
	if err := Binary(ctx, opts.Dir, img.Package, out, p, stamp); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// BuildTags are the tags every bpfleet binary is built with.
// grpcnotrace keeps gRPC (the agent's CSI driver) from linking
// golang.org/x/net/trace and with it html/template, whose use of
// reflection makes the linker keep every exported method of every type:
// 20 MiB more agent (bpfman-agent/deps_test.go checks).
const BuildTags = "grpcnotrace"

// Binary builds pkg (a package path, from dir) for p into out as it goes
// into an image: static, stripped, with no path of the build machine, and
// stamp (the image's version and revision labels) written in for
// `bpfleet version`, the logs and the *_build_info metrics. Benchmarks
// build what they measure with it, so that they measure what users run.
func Binary(ctx context.Context, dir, pkg, out string, p v1.Platform, stamp buildinfo.Stamp) error {
	// -buildvcs=false: the binary does not depend on git's state, the
	// stamp says it.
	ldflags := strings.TrimSpace("-s -w " + stamp.LDFlags())
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", BuildTags, "-trimpath", "-buildvcs=false", "-ldflags="+ldflags, "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), goEnv(p)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// goEnv is the go command's environment that builds a static binary for p.
func goEnv(p v1.Platform) []string {
	env := []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Architecture}
	if p.Architecture == "arm" && p.Variant != "" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	return env
}

// platformDir names p's directory in the cache, e.g. "linux_arm64_v8".
func platformDir(p v1.Platform) string {
	return strings.ReplaceAll(p.String(), "/", "_")
}
