#!/usr/bin/env bash
# Builds the Kubernetes binaries the tests run from the Go module proxy
# (versions pinned in hack/tools/go.mod) into bin/, once: no download site
# is reachable. envtest and the local stack need etcd, kube-apiserver and
# kubectl; the one-node cluster (test/node, make cluster) also the
# kubelet, kube-controller-manager and kube-scheduler. A stamp of
# hack/tools/go.sum makes a rerun free; a version change rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"
stamp="$bin/.tools-stamp"
k8s=(kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler)
want=$(sha256sum "$0" hack/tools/go.mod hack/tools/go.sum | sha256sum | cut -c1-16)
have=1
for b in etcd "${k8s[@]}"; do [ -x "$bin/$b" ] || have=0; done
if [ "$have" = 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
mkdir -p "$bin"
cd hack/tools
# The version the binaries report (kubectl get nodes, /version), as a
# release build would: the pinned k8s.io/kubernetes version.
version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${version#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
echo "building etcd and ${k8s[*]} $version into bin/ (about 15 minutes the first time)" >&2
go build -o "$bin/etcd" go.etcd.io/etcd/server/v3
for b in "${k8s[@]}"; do
  go build -ldflags "$ldflags" -o "$bin/$b" "k8s.io/kubernetes/cmd/$b"
done
echo "$want" > "$stamp"
