#!/usr/bin/env bash
# Compiles bpf/*.c into BPF objects (DWARF stripped, BTF kept).
# Usage: hack/gen-bpf.sh [outdir]   (default: bpf/, the committed objects)
# Output depends only on the sources and the clang version, not on paths.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$root/bpf}" && cd "${1:-$root/bpf}" && pwd)"
arch_include="/usr/include/$(uname -m)-linux-gnu"

for tool in clang llvm-strip; do
	command -v "$tool" >/dev/null || {
		echo "gen-bpf: $tool not found; run hack/install-deps.sh" >&2
		exit 1
	}
done

cd "$root/bpf"
for src in *.c; do
	obj="$out/${src%.c}.o"
	clang -O2 -g -target bpf -Wall -Werror -I"$arch_include" \
		-fdebug-compilation-dir=. -c "$src" -o "$obj"
	llvm-strip -g "$obj"
done

# The tracepoint counter again as big-endian eBPF, as an s390x node loads
# it: the multi-platform image tests package both.
clang -O2 -g -target bpfeb -Wall -Werror -I"$arch_include" \
	-fdebug-compilation-dir=. -c tracepoint_counter.c -o "$out/tracepoint_counter_bpfeb.o"
llvm-strip -g "$out/tracepoint_counter_bpfeb.o"
