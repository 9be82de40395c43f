#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from the Go module proxy (versions
# pinned in hack/tools/go.mod) into bin/, once: no download site is reachable,
# and envtest and the local stack need real binaries. A stamp of
# hack/tools/go.sum makes a rerun free; a version change rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"
stamp="$bin/.tools-stamp"
want=$(sha256sum hack/tools/go.mod hack/tools/go.sum | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ] && [ -x "$bin/kubectl" ]; then
  exit 0
fi
mkdir -p "$bin"
cd hack/tools
echo "building kube-apiserver, etcd and kubectl into bin/ (about 5 minutes the first time)" >&2
go build -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -o "$bin/etcd" go.etcd.io/etcd/server/v3
go build -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl
echo "$want" > "$stamp"
