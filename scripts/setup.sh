#!/usr/bin/env bash
# Installs everything kalloc needs on a Debian 12 machine, without asking
# anything. Idempotent: once done, a second run downloads nothing.
#
#  - host packages from bookworm (clang/lld/llvm 19, busybox, ...);
#  - qemu-system-x86 10.x from bookworm-backports;
#  - Debian's linux-source of the flavour's series (7.3; 7.2 for
#    KERNEL=compat) from trixie-backports, downloaded into the cache
#    (never installed);
#  - rustup's rust-src, rustfmt and clippy components, for the flavour's
#    pinned toolchain too (compat: 1.85.1), and bindgen-cli 0.72.1 (into
#    the cache).
set -euo pipefail
. "$(dirname "$0")/common.sh"

HOST_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev busybox-static cpio flex bison
	libelf-dev bc make gcc libc6-dev xz-utils lz4 python3 kmod)
QEMU_PKG=qemu-system-x86
BINDGEN_VERSION=0.72.1
SRC_DIR=$KALLOC_CACHE/src

# The Debian archive the system already uses: the first URI that serves
# bookworm in the system's sources (deb822 or one-line style).
debian_mirror() {
	local uri
	uri=$(awk '
		/^URIs:/ { u=$2 }
		/^Suites:/ { for (i=2;i<=NF;i++) if ($i=="bookworm") { print u; exit } }
		/^deb[ \t]/ { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1)=="bookworm") { print $i; exit } } }
	' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$uri" ] || die "no Debian bookworm archive found in the system's apt sources"
	echo "$uri"
}

# Prepare a private apt area and refresh its lists (once per run at most).
apt_area() {
	local area=$1 suites=$2 dir=$KALLOC_CACHE/apt/$1
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	local mirror
	mirror=$(debian_mirror)
	: >"$dir/sources.list"
	for s in $suites; do
		printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
			"$mirror" "$s" >>"$dir/sources.list"
	done
	note "refreshing package lists ($area: $suites)"
	kalloc_apt "$area" update >/dev/null || die "apt-get update failed for $suites (is the Debian archive reachable?)"
}

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# 1. host packages and QEMU 10.x
missing=()
for p in "${HOST_PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
qemu_ok=0
if pkg_installed "$QEMU_PKG" && command -v qemu-system-x86_64 >/dev/null &&
	qemu-system-x86_64 --version | grep -q 'version \(1[0-9]\)\.'; then
	qemu_ok=1
fi
if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok = 0 ]; then
	[ "$(id -u)" = 0 ] || die "installing packages needs root: ${missing[*]} $QEMU_PKG"
	apt_area host "bookworm bookworm-updates bookworm-backports"
	if [ ${#missing[@]} -gt 0 ]; then
		note "installing ${missing[*]}"
		kalloc_apt host install -y --no-install-recommends "${missing[@]}" \
			|| die "apt-get install failed: ${missing[*]}"
	fi
	if [ $qemu_ok = 0 ]; then
		note "installing $QEMU_PKG from bookworm-backports"
		kalloc_apt host install -y --no-install-recommends -t bookworm-backports "$QEMU_PKG" \
			|| die "apt-get install failed: $QEMU_PKG (bookworm-backports)"
	fi
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing after install"

# 2. Rust: rust-src for the kernel's core/alloc build, bindgen for bindings.
command -v rustup >/dev/null || die "rustup not found (kalloc uses the machine's rustup toolchain)"
if [ -n "$RUST_TOOLCHAIN" ] && ! rustup run "$RUST_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
	note "installing the Rust $RUST_TOOLCHAIN toolchain (the $KERNEL flavour's)"
	rustup toolchain install "$RUST_TOOLCHAIN" --profile minimal --no-self-update \
		|| die "rustup toolchain install $RUST_TOOLCHAIN failed"
fi
# The default toolchain formats every flavour's code and builds the host
# tools; the pinned one builds the flavour's kernel and modules.
for toolchain in "$(env -u RUSTUP_TOOLCHAIN rustup show active-toolchain | cut -d' ' -f1)" $RUST_TOOLCHAIN; do
	for component in rust-src rustfmt clippy; do
		if ! rustup component list --installed --toolchain "$toolchain" 2>/dev/null | grep -q "^$component"; then
			note "adding rustup component $component to $toolchain"
			rustup component add --toolchain "$toolchain" "$component" \
				|| die "rustup component add $component ($toolchain) failed"
		fi
	done
done
if ! "$TOOLS_DIR/bin/bindgen" --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	note "installing bindgen-cli $BINDGEN_VERSION into $TOOLS_DIR"
	env -u RUSTUP_TOOLCHAIN cargo install -q bindgen-cli --version "$BINDGEN_VERSION" --locked --root "$TOOLS_DIR" \
		|| die "cargo install bindgen-cli failed"
fi

# 3. Debian's linux-source of the flavour's series, into the cache.
tarball=$(ls "$SRC_DIR"/usr/src/linux-source-$KERNEL_SERIES.tar.* 2>/dev/null | head -n1 || true)
if [ -z "$tarball" ]; then
	apt_area kernel "trixie-backports"
	mkdir -p "$SRC_DIR/deb"
	note "downloading linux-source-$KERNEL_SERIES from trixie-backports"
	(cd "$SRC_DIR/deb" && kalloc_apt kernel download "linux-source-$KERNEL_SERIES") \
		|| die "could not download linux-source-$KERNEL_SERIES"
	deb=$(ls -t "$SRC_DIR"/deb/linux-source-"$KERNEL_SERIES"_*.deb | head -n1)
	dpkg-deb -x "$deb" "$SRC_DIR" || die "could not unpack $deb"
	dpkg-deb -f "$deb" Version >"$SRC_DIR/version-$KERNEL_SERIES"
	rm -f "$deb"
	tarball=$(ls "$SRC_DIR"/usr/src/linux-source-$KERNEL_SERIES.tar.* 2>/dev/null | head -n1 || true)
	[ -n "$tarball" ] || die "linux-source-$KERNEL_SERIES package holds no source tarball"
fi
note "set-up complete"
