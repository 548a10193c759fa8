#!/usr/bin/env bash
# Builds kalloc.ko with the kernel's own build system, out of the work tree
# (target/kbuild). Extra arguments go to make (e.g. rust-analyzer).
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

kdir_check
mkdir -p "$KALLOC_TOP/target/kbuild"
kmake -j"$(nproc)" -C "$KDIR" M="$KALLOC_TOP" MO="$KALLOC_TOP/target/kbuild" \
	"${@:-modules}" || die "module build failed"
