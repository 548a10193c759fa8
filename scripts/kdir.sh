#!/usr/bin/env bash
# make kdir: prints the kernel build tree that a build of flavour $KERNEL
# uses (KDIR= if given, else the cached one for the current toolchain and
# config), whether or not it is built yet.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

[ -n "$KDIR" ] || die "no kernel source yet to name a build after: run 'make setup' first"
echo "$KDIR"
