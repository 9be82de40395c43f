#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, if absent:
# clang/llvm/libbpf-dev to compile bpf/, bpftool to inspect the kernel,
# iproute2 for network namespaces, ping for traffic, gcc for uprobe targets,
# prometheus for the dashboard test, containerd, runc and the CNI plugins for
# the one-node cluster (test/node). Idempotent and quick when all is present.
set -euo pipefail

need=()
command -v clang >/dev/null || need+=(clang)
command -v llvm-strip >/dev/null || need+=(llvm)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v bpftool >/dev/null || [ -x /usr/sbin/bpftool ] || need+=(bpftool)
command -v ip >/dev/null || need+=(iproute2)
command -v gcc >/dev/null || need+=(gcc libc6-dev)   # uprobe test targets
command -v ping >/dev/null || need+=(iputils-ping)  # XDP/TCX tests
command -v prometheus >/dev/null || need+=(prometheus)  # the dashboard test queries a real server
command -v containerd >/dev/null || need+=(containerd)  # the one-node cluster's runtime
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ ${#need[@]} -eq 0 ] && exit 0

echo "installing ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
