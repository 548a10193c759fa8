#!/usr/bin/env bash
# Builds a driver's own module, in its own directory DIR, against kalloc and
# the kernel kalloc's VM boots (KERNEL=, KDIR= as for make module): what
# `make -C $KDIR M=DIR LLVM=-19 KALLOC=<kalloc> modules` does (CC=gcc and
# rustc 1.85.1 for KERNEL=compat), with kalloc's tools on the PATH. The module lands in DIR.
#
# usage: build-external.sh DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

dir=${1:-}
[ -n "$dir" ] && [ -f "$dir/Kbuild" ] || die "usage: build-external.sh DIR (a module directory with a Kbuild file)"
dir=$(cd "$dir" && pwd)
kdir_check
kmake -j"$(nproc)" -C "$KDIR" M="$dir" KALLOC="$KALLOC_TOP" modules \
	|| die "the build of $dir failed"
