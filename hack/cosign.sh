#!/usr/bin/env bash
# Builds the cosign CLI (version pinned in hack/cosign/go.mod) from the Go
# module proxy into bin/, once: the signature tests prove that images signed
# by cosign verify in bpfleet and the other way round. A stamp of
# hack/cosign/go.sum makes a rerun free; a version change rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"
stamp="$bin/.cosign-stamp"
want=$(sha256sum hack/cosign/go.mod hack/cosign/go.sum | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/cosign" ]; then
  exit 0
fi
mkdir -p "$bin"
cd hack/cosign
echo "building cosign into bin/ (a few minutes the first time)" >&2
go build -o "$bin/cosign" github.com/sigstore/cosign/v2/cmd/cosign
echo "$want" > "$stamp"
