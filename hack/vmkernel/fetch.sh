#!/usr/bin/env bash
# Installs qemu-system-x86 if absent and fills .cache/vmkernels/<version>/
# with the newest Debian 6.1 and 6.12 kernel packages (the unsigned amd64
# flavour: `apt-get download` and `dpkg-deb -x`; nothing is installed as the
# host kernel). Each folder gets a `vmlinux` the VM boots (PVH), extracted
# from the package's bzImage, and the package's modules. Prints the
# folders, one a line. A no-op for a kernel already in the cache.
#
# Old versions drop off the mirror, so the newest one is picked with
# apt-cache each time (the folder records the package version it holds);
# `apt-get update` runs once if the lists hold no candidate or the mirror
# no longer has it.
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

# update refreshes apt's lists, once per run.
updated=""
update() {
	[ -z "$updated" ] || return 1
	echo "vmkernel: running apt-get update" >&2
	$SUDO apt-get update -qq
	updated=1
}

# pick prints the newest package matching $1 and its version.
pick() {
	local p
	p=$(newest "$1")
	if [ -z "$p" ] && update; then
		p=$(newest "$1")
	fi
	[ -n "$p" ] || { echo "vmkernel: no package matches $1" >&2; return 1; }
	echo "$p $(apt-cache show --no-all-versions "$p" | awk '/^Version:/ {print $2; exit}')"
}

# fill puts the newest package matching $1 into $cache/<kernel release>/,
# unless that version of it is there, and prints the folder. A version
# gone from the mirror (apt's lists are old) is looked up again after
# apt-get update.
fill() {
	local pkg version release dir
	for try in 1 2; do
		read -r pkg version < <(pick "$1") || true
		[ -n "$pkg" ] || return 1
		release=${pkg#linux-image-}
		release=${release%-unsigned}
		dir="$cache/$release"
		if [ -f "$dir/vmlinux" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then
			echo "$dir"
			return
		fi
		if unpack "$pkg" "$version" "$release" "$dir"; then
			echo "$dir"
			return
		fi
		[ "$try" = 1 ] && update || {
			echo "vmkernel: cannot fetch $pkg $version" >&2
			return 1
		}
	done
}

# unpack downloads package $1 version $2 (kernel release $3) and unpacks
# what the VMs need into folder $4.
unpack() {
	local pkg="$1" version="$2" release="$3" dir="$4" tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"; trap - RETURN' RETURN
	echo "vmkernel: downloading $pkg $version" >&2
	# As root apt drops to the _apt user, which cannot write a mktemp
	# folder; the download is verified against the signed lists either way.
	(cd "$tmp" && apt-get -qq -o APT::Sandbox::User=root download "$pkg=$version") || return 1
	# Called in a condition, where set -e does not apply: every step is
	# checked, and the version is recorded last.
	rm -rf "$dir" &&
		mkdir -p "$dir/lib/modules" &&
		dpkg-deb -x "$tmp"/*.deb "$tmp/root" &&
		mv "$tmp/root/boot/vmlinuz-$release" "$dir/vmlinuz" &&
		mv "$tmp/root/boot/config-$release" "$dir/config" &&
		mv "$tmp/root/lib/modules/$release" "$dir/lib/modules/$release" &&
		/sbin/depmod -b "$dir" "$release" &&
		go run ./hack/vmkernel/extract "$dir/vmlinuz" "$dir/vmlinux" &&
		echo "$version" >"$dir/version"
}

fill '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$'
fill '^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64-unsigned$'
