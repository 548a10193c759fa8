#!/usr/bin/env bash
# Builds kalloc's kernel of flavour $KERNEL (debug by default, fast or
# compat) into the cache, reused when present: tinyconfig + the flavour's
# fragments, with its compilers (common.sh), checked after olddefconfig.
# Prints the build directory on stdout.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

if [ -n "${KDIR:-}" ] && [ "$KDIR" != "$KDIR_DEFAULT" ]; then
	# A kernel the user built: use it as it is.
	[ -f "$KDIR/arch/x86/boot/bzImage" ] || die "KDIR=$KDIR holds no built kernel (arch/x86/boot/bzImage)"
	echo "$KDIR"
	exit 0
fi
[ -n "$KSRC_TARBALL" ] || die "kernel source missing: run scripts/setup.sh (make setup) first"

if [ -f "$KDIR/.kalloc-built" ]; then
	echo "$KDIR"
	exit 0
fi

# One kernel build at a time: a second caller waits for the first.
mkdir -p "$KALLOC_CACHE"
exec 9>"$KALLOC_CACHE/build.lock"
if ! flock -n 9; then
	note "another kernel build is running; waiting for it"
	flock 9
fi
if [ -f "$KDIR/.kalloc-built" ]; then
	echo "$KDIR"
	exit 0
fi

if [ ! -f "$KSRC/.kalloc-unpacked" ]; then
	note "unpacking $(basename "$KSRC_TARBALL")"
	rm -rf "$KSRC" "$KSRC.tmp"
	mkdir -p "$KSRC.tmp"
	tar -xf "$KSRC_TARBALL" -C "$KSRC.tmp" --strip-components=1 || die "could not unpack $KSRC_TARBALL"
	mv "$KSRC.tmp" "$KSRC"
	touch "$KSRC/.kalloc-unpacked"
fi

mkdir -p "$KDIR"
log=$KDIR/build.log
ksrc_make() {
	kmake -C "$KSRC" O="$KDIR" "$@"
}

note "configuring the $KERNEL kernel in $KDIR"
ksrc_make -s tinyconfig >"$log" 2>&1 || die "make tinyconfig failed (log: $log)"
"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KDIR" "$KDIR/.config" \
	"${KERNEL_FRAGMENTS[@]}" >>"$log" 2>&1 || die "merging the config fragments failed (log: $log)"
ksrc_make -s olddefconfig >>"$log" 2>&1 || die "make olddefconfig failed (log: $log)"
# Every option the fragments ask for must have stuck.
kernel_config_check "$KDIR/.config" "${KERNEL_FRAGMENTS[@]}" \
	|| die "kernel config: requested options did not stick (config: $KDIR/.config)"

ksrc_make -s rustavailable >>"$log" 2>&1 || die "the Rust toolchain is not usable for this kernel (log: $log)"

note "building the kernel (about 6 minutes on 2 cores; log: $log)"
start=$(date +%s)
set +e
ksrc_make -j"$(nproc)" all 2>&1 | tee -a "$log" | awk -v start="$start" '
	/^ *(CC|RUSTC|AR|LD|AS|BINDGEN|HOSTCC|OBJCOPY)/ {
		n++
		if (n % 200 == 0) {
			printf "kalloc: kernel build: %d steps, %ds, at %s\n", n, systime() - start, $NF > "/dev/stderr"
			fflush("/dev/stderr")
		}
	}'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
	die "kernel build failed (log: $log)"
fi
touch "$KDIR/.kalloc-built"
note "kernel built in $(($(date +%s) - start))s: $KDIR"
echo "$KDIR"
