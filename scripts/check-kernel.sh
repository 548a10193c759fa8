#!/usr/bin/env bash
# Says which kernel a run uses, and checks that it is what the flavour
# ($KERNEL, debug by default) promises: every option of
# scripts/kernel/base.config and scripts/kernel/$KERNEL.config, checked on
# the kernel's own .config, whether it is the cached build or KDIR=.
#
# usage: check-kernel.sh [--warn]   (--warn: report a mismatch, do not fail)
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

release=$(cat "$KDIR/include/config/kernel.release" 2>/dev/null || echo unknown)
origin=cached
[ "$KDIR" = "$KDIR_DEFAULT" ] || origin="KDIR="
note "kernel: $release, $KERNEL flavour ($origin $KDIR)"
if ! kernel_config_check "$KDIR/.config" "${KERNEL_FRAGMENTS[@]}"; then
	msg="the kernel at $KDIR lacks options of the $KERNEL flavour (above): its verdicts would not mean what they say"
	[ "${1:-}" = --warn ] && { note "warning: $msg"; exit 0; }
	die "$msg"
fi
