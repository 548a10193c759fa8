# Shared settings for kalloc's scripts. Sourced, never run.
# shellcheck shell=bash

KALLOC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
KALLOC_CACHE=${KALLOC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kalloc}
LLVM_SUFFIX=-19
# Tools we install ourselves (bindgen) live here, not in ~/.cargo.
TOOLS_DIR=$KALLOC_CACHE/tools
export PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${LLVM_SUFFIX}/lib}

# One clear line on stderr, then a non-zero exit.
die() {
	echo "kalloc: error: $*" >&2
	exit 1
}

note() {
	echo "kalloc: $*" >&2
}

# The flavour: debug (7.3, clang, memory debugging on: the gate of `make
# test`), fast (7.3, clang, production-like) or compat (7.2, GCC and the
# oldest rustc 7.3 takes, as distributions build: debug less KASAN, which a
# GCC-built Rust kernel cannot have). Its config is
# scripts/kernel/base.config, then the fragments of scripts/kernel/$KERNEL.
KERNEL=${KERNEL:-debug}
case "$KERNEL" in
debug | fast)
	KERNEL_SERIES=7.3
	KERNEL_CC=clang
	RUST_TOOLCHAIN=
	;;
compat)
	KERNEL_SERIES=7.2
	KERNEL_CC=gcc
	RUST_TOOLCHAIN=1.85.1
	;;
*) die "KERNEL=$KERNEL: the kernel flavours are debug, fast and compat" ;;
esac
# A pinned toolchain is rustup's, for every Rust tool a kernel build runs
# (rustc, rustdoc, clippy-driver); the host harness keeps the default one.
if [ -n "$RUST_TOOLCHAIN" ]; then
	export RUSTUP_TOOLCHAIN=$RUST_TOOLCHAIN KALLOC_PINNED_TOOLCHAIN=$RUST_TOOLCHAIN
elif [ -n "${KALLOC_PINNED_TOOLCHAIN:-}" ]; then
	# Called by a script of a pinned flavour (prune-kernels): not this one's.
	unset RUSTUP_TOOLCHAIN KALLOC_PINNED_TOOLCHAIN
fi
# What every make of the kernel tree (the kernel, kalloc, a driver's module)
# is given for this flavour's compilers.
if [ "$KERNEL_CC" = clang ]; then
	KMAKE_TOOLS=(LLVM="$LLVM_SUFFIX" BINDGEN=bindgen)
else
	KMAKE_TOOLS=(CC=gcc HOSTCC=gcc BINDGEN=bindgen)
fi
kmake() {
	make "${KMAKE_TOOLS[@]}" "$@"
}

# apt-get with kalloc's private sources list, state and cache, so the
# system's own lists stay as they are and downloads survive the system's
# hooks that empty /var/cache/apt/archives. $1 names the private area.
kalloc_apt() {
	local area=$KALLOC_CACHE/apt/$1
	shift
	DEBIAN_FRONTEND=noninteractive apt-get -q \
		-o Dir::Etc::SourceList="$area/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$area/lists" \
		-o Dir::Cache="$area/cache" \
		-o APT::Get::List-Cleanup=0 \
		-o Acquire::Retries=3 \
		-o APT::Sandbox::User=root \
		"$@"
}
