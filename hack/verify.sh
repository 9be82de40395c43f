#!/usr/bin/env bash
# Fails when generated files (kinds, deepcopy, CRDs, RBAC, BPF objects) are not what
# `make generate manifests` produces from the sources. Works in a dirty tree:
# it compares the files before and after regenerating them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(api controllers/zz_generated.rbac.go config/crd/bases config/rbac config/argocd bpf)
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
for p in "${paths[@]}"; do
  mkdir -p "$before/$(dirname "$p")"
  cp -r "$p" "$before/$p"
done
make -s generate manifests
status=0
for p in "${paths[@]}"; do
  if ! diff -r "$before/$p" "$p" >/dev/null; then
    echo "verify: $p was not current; regenerated it (review and commit):" >&2
    diff -r "$before/$p" "$p" | head -20 >&2 || true
    status=1
  fi
done
# Go sources are gofmt'ed (new files too, before they are committed).
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
  echo "verify: not gofmt'ed (run gofmt -w):" >&2
  echo "$unformatted" >&2
  status=1
fi
exit $status
