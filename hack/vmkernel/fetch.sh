#!/usr/bin/env bash
# Installs qemu-system-x86 if absent and fills .cache/vmkernels/<version>/
# with the newest Debian 6.1 and 6.12 kernel packages (the unsigned amd64
# flavour: `apt-get download` and `dpkg-deb -x`; nothing is installed as the
# host kernel). Each folder gets a `vmlinux` the VM boots (PVH), extracted
# from the package's bzImage, and the package's modules. Prints the
# folders, one a line. A no-op for a kernel already in the cache.
#
# Old ABI versions drop off the mirror, so the newest version is picked
# with apt-cache each time; `apt-get update` runs once if the lists hold
# no candidate.
set -euo pipefail

cd "$(dirname "$0")/../.."
cache=.cache/vmkernels

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# qemu boots the kernels, xz and zstd decompress them, kmod's depmod
# indexes their modules (and its modprobe loads them in the guest, whose
# root is the host's).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
[ -x /sbin/depmod ] || need+=(kmod)
if [ ${#need[@]} -gt 0 ]; then
	echo "vmkernel: installing ${need[*]}" >&2
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# newest prints the newest package whose name matches the regexp $1.
newest() {
	apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -n1
}

# pick prints the newest package matching $1, updating apt's lists once if none.
updated=""
pick() {
	local p
	p=$(newest "$1")
	if [ -z "$p" ] && [ -z "$updated" ]; then
		$SUDO apt-get update -qq
		updated=1
		p=$(newest "$1")
	fi
	[ -n "$p" ] || { echo "vmkernel: no package matches $1" >&2; return 1; }
	echo "$p"
}

# fill downloads package $1 into $cache/<kernel version>/ unless it is there.
fill() {
	local pkg="$1" ver dir tmp
	ver=${pkg#linux-image-}
	ver=${ver%-unsigned}
	dir="$cache/$ver"
	if [ -f "$dir/vmlinux" ] && [ -d "$dir/lib/modules/$ver" ]; then
		echo "$dir"
		return
	fi
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	echo "vmkernel: downloading $pkg" >&2
	# As root apt drops to the _apt user, which cannot write a mktemp
	# folder; the download is verified against the signed lists either way.
	(cd "$tmp" && apt-get -qq -o APT::Sandbox::User=root download "$pkg")
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb -x "$tmp"/*.deb "$tmp/root"
	mv "$tmp/root/boot/vmlinuz-$ver" "$dir/vmlinuz"
	mv "$tmp/root/boot/config-$ver" "$dir/config"
	mkdir -p "$dir/lib/modules"
	mv "$tmp/root/lib/modules/$ver" "$dir/lib/modules/$ver"
	/sbin/depmod -b "$dir" "$ver"
	go run ./hack/vmkernel/extract "$dir/vmlinuz" "$dir/vmlinux"
	echo "$dir"
}

fill "$(pick '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$')"
fill "$(pick '^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64-unsigned$')"
