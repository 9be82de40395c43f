#!/usr/bin/env bash
# Fills .cache/corpus/ with the BPF objects test/corpus/corpus.list names:
# for each package missing an object, `apt-get download`s the pinned
# version (the .deb alone: nothing is installed), extracts it into a
# temporary folder and keeps only the listed objects, then checks every
# object's SHA-256. A no-op when the cache is complete.
#
# Needs apt's package lists (`apt-get update`, which hack/install-deps.sh
# runs when it installs anything); if the pinned version is not in them,
# it runs `apt-get update` once and tries again.
set -euo pipefail

cd "$(dirname "$0")/.."
list=test/corpus/corpus.list
cache=.cache/corpus

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# entries prints "package version object sha256" for each line of the list.
entries() { grep -v -e '^#' -e '^[[:space:]]*$' "$list"; }

# missing prints each "package version" that lacks one of its objects.
missing() {
	entries | while read -r pkg ver obj sum; do
		f="$cache/${pkg}_$ver/$obj"
		[ -f "$f" ] && [ "$(sha256sum "$f" | cut -c1-64)" = "$sum" ] || echo "$pkg $ver"
	done | sort -u
}

updated=""
# download fetches pkg=ver's .deb into the current folder.
download() {
	local spec="$1=$2"
	# As root apt drops to the _apt user, which cannot write a mktemp
	# folder; the download is verified against the signed lists either way.
	if apt-get -qq -o APT::Sandbox::User=root download "$spec" 2>/dev/null; then
		return
	fi
	if [ -z "$updated" ]; then
		echo "corpus: $spec not in apt's lists; running apt-get update" >&2
		$SUDO apt-get update -qq
		updated=1
		apt-get -qq -o APT::Sandbox::User=root download "$spec" && return
	fi
	echo "corpus: cannot download $spec; the mirror has $1 $(apt-cache madison "$1" | awk '{print $3}' | xargs) (update $list and the expected results in test/corpus/results_test.go)" >&2
	return 1
}

# fill extracts pkg's listed objects into the cache.
fill() {
	local pkg="$1" ver="$2" tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	(cd "$tmp" && download "$pkg" "$ver")
	dpkg-deb -x "$tmp"/*.deb "$tmp/root"
	mkdir -p "$cache/${pkg}_$ver"
	entries | while read -r p v obj _; do
		[ "$p $v" = "$pkg $ver" ] || continue
		mapfile -t found < <(find "$tmp/root" -type f -name "$obj")
		if [ ${#found[@]} -ne 1 ]; then
			echo "corpus: $pkg $ver holds ${#found[@]} files named $obj, want 1" >&2
			return 1
		fi
		cp "${found[0]}" "$cache/${pkg}_$ver/$obj"
	done
	echo "corpus: $pkg $ver: objects extracted into $cache/${pkg}_$ver" >&2
}

# complete reports whether every object is in the cache with its sum.
complete() {
	entries | awk -v c="$cache" '{print $4 "  " c "/" $1 "_" $2 "/" $3}' | sha256sum --check --quiet --status 2>/dev/null
}

complete && exit 0
missing | while read -r pkg ver; do fill "$pkg" "$ver"; done
bad=$(missing)
if [ -n "$bad" ]; then
	echo "corpus: objects of these packages do not match $list's sums:" >&2
	echo "$bad" >&2
	exit 1
fi
