package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// compile cross-compiles img's package for p into the cache directory,
// a static stripped binary, and returns its content.
func compile(ctx context.Context, opts Options, img Image, p v1.Platform) ([]byte, error) {
	out := filepath.Join(opts.CacheDir, platformDir(p), img.Name)
	// -buildvcs=false: the binary does not depend on git's state, the
	// revision label says it.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, img.Package)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), goEnv(p)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", img.Package, err, msg)
	}
	return os.ReadFile(out)
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
