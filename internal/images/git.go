package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// gitRevision returns the commit checked out in dir, "-dirty" when
// tracked files differ from it, and the commit's time.
func gitRevision(ctx context.Context, dir string) (string, time.Time, error) {
	head, err := git(ctx, dir, "log", "-1", "--format=%H %ct")
	if err != nil {
		return "", time.Time{}, err
	}
	rev, unix, _ := strings.Cut(head, " ")
	sec, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("git log: commit time %q: %w", unix, err)
	}
	status, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return "", time.Time{}, err
	}
	if status != "" {
		rev += "-dirty"
	}
	return rev, time.Unix(sec, 0).UTC(), nil
}

// git runs git in dir and returns its output, trimmed.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(exit.Stderr))
		}
		return "", fmt.Errorf("git %s (set Options.Revision to build outside a git tree): %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}
