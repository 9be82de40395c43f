#!/usr/bin/env bash
# Runs the benchmarks of docs/benchmarks.md (make bench), keeps their raw
# output in .bench/<UTC time>/ (ignored by git; .bench/latest links the last
# run) with the date, commit and machine in meta.txt, and renders it into the
# generated section of docs/benchmarks.md (hack/benchdoc). With arguments, runs
# those commands instead of the full set, e.g. a short check of the pipeline:
#   BENCH_NOTE="short check" hack/bench.sh "go test -run '^\$' -bench . -benchtime 1x ./bpfman-agent/maps/"
# BENCH_NOTE, when set, heads the section. A failing command does not stop the
# others; the script then exits non-zero after rendering what was measured.
set -uo pipefail
cd "$(dirname "$0")/.."
commands=(
  "go test -run '^\$' -bench . -benchtime 20x -timeout 60m ./test/e2e/"
  "go test -run '^\$' -bench 'Scale\$' -benchtime 1x -timeout 60m ./test/scale/"
  "go test -run '^\$' -bench 'ScaleApplications\$' -benchtime 1x -timeout 60m ./test/scale/"
  "go test -run '^\$' -bench SetWrite -benchtime 100x ./test/scale/"
  "go test -run '^\$' -bench . -benchtime 2s -timeout 30m ./bpfman-agent/maps/"
  "go test -run '^\$' -bench . -benchtime 2s ./internal/cosign/"
  "go test -run '^\$' -bench FlowmeterLoadAttach -benchtime 30x ./bpf/"
  "go test -run '^\$' -bench . -benchtime 1x -timeout 30m ./test/node/"
)
if [ $# -gt 0 ]; then commands=("$@"); fi

dir=.bench/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dir"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short=12 HEAD)"
  # What was measured differs from the commit when this counts files.
  echo "dirty: $(git status --porcelain -- . ':!docs/benchmarks.md' | wc -l)"
  echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cpus: $(grep -c '^processor' /proc/cpuinfo)"
  echo "kernel: $(uname -r)"
  echo "go: $(go env GOVERSION)"
  if [ -n "${BENCH_NOTE:-}" ]; then echo "note: $BENCH_NOTE"; fi
} >"$dir/meta.txt"

status=0
i=0
for c in "${commands[@]}"; do
  i=$((i + 1))
  out=$dir/$(printf %02d "$i").txt
  echo "command: $c" >"$out"
  echo "+ $c"
  bash -c "$c" 2>&1 | tee -a "$out" || status=1
done
ln -sfn "$(basename "$dir")" .bench/latest
go run ./hack/benchdoc -raw "$dir" -doc docs/benchmarks.md || status=1
echo "raw output in $dir; docs/benchmarks.md's generated section rewritten"
exit $status
