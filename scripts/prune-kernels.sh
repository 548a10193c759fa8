#!/usr/bin/env bash
# make prune-kernels: removes the cached kernel builds that no current
# flavour uses (an older kernel source, config, toolchain or build script
# made them), and says what it removed and the space it gave back. The
# builds of the current debug, fast and compat flavours stay.
set -euo pipefail
. "$(dirname "$0")/common.sh"

build=$KALLOC_CACHE/build
[ -d "$build" ] || { note "no cached kernel builds"; exit 0; }
keep=()
for flavour in debug fast compat; do
	keep+=("$(KDIR= KERNEL=$flavour "$(dirname "$0")/kdir.sh")")
done
# Not while a kernel build runs: it may be one of those about to go.
exec 9>"$KALLOC_CACHE/build.lock"
flock -n 9 || die "a kernel build is running; prune after it"
freed=0
for dir in "$build"/*/; do
	dir=${dir%/}
	[ -d "$dir" ] || continue
	case " ${keep[*]} " in *" $dir "*) continue ;; esac
	kb=$(du -sk "$dir" | cut -f1)
	rm -rf "$dir"
	freed=$((freed + kb))
	note "removed $dir"
done
note "kept ${keep[*]}; freed $((freed / 1024)) MiB"
