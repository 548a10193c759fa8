# Shared settings for kalloc's scripts. Sourced, never run.
# shellcheck shell=bash

KALLOC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
KALLOC_CACHE=${KALLOC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kalloc}
KERNEL_SERIES=7.3
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
