#!/usr/bin/env bash
# Builds kalloc.ko with the kernel's own build system, out of the work tree
# (target/kbuild). Extra arguments go to make (e.g. rust-analyzer).
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

[ -f "$KDIR/Module.symvers" ] || [ -f "$KDIR/.kalloc-built" ] || [ -f "$KDIR/vmlinux" ] \
	|| die "no built kernel at $KDIR: run 'make kernel'"
# A tree a Rust module can be built against, or one line that says why not
# (Kbuild would fail deep inside, or with hundreds of lines).
[ -f "$KDIR/.config" ] || die "KDIR=$KDIR has no .config: not a configured kernel build tree"
grep -qx 'CONFIG_RUST=y' "$KDIR/.config" \
	|| die "KDIR=$KDIR is a kernel without Rust (CONFIG_RUST is not set): kalloc is Rust; build against a kernel configured with CONFIG_RUST=y"
missing=()
for f in rust/libcore.rmeta rust/libkernel.rmeta rust/libmacros.so; do
	[ -f "$KDIR/$f" ] || missing+=("$f")
done
[ ${#missing[@]} = 0 ] \
	|| die "KDIR=$KDIR lacks the kernel's Rust build outputs (${missing[*]}): headers packages (linux-headers-*) do not ship them; build against the kernel's build tree itself, or the cached one ('make kernel')"
built_with=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$KDIR/.config")
here=$("${RUSTC:-rustc}" --version 2>/dev/null || true)
[ -z "$built_with" ] || [ "$built_with" = "$here" ] \
	|| die "KDIR=$KDIR was built with $built_with, but the rustc here is ${here:-missing}: a Rust module must be built with the kernel's own compiler (install that toolchain with rustup, and put it first in PATH or set RUSTC)"
mkdir -p "$KALLOC_TOP/target/kbuild"
make -j"$(nproc)" -C "$KDIR" M="$KALLOC_TOP" MO="$KALLOC_TOP/target/kbuild" LLVM="$LLVM_SUFFIX" BINDGEN=bindgen \
	"${@:-modules}" || die "module build failed"
