#!/usr/bin/env bash
# Builds kalloc's test kernel into the cache (reused when present):
# tinyconfig + scripts/kernel.config, LLVM=-19, checked after olddefconfig.
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
kmake() {
	make -C "$KSRC" O="$KDIR" LLVM="$LLVM_SUFFIX" BINDGEN=bindgen "$@"
}

note "configuring the kernel in $KDIR"
kmake -s tinyconfig >"$log" 2>&1 || die "make tinyconfig failed (log: $log)"
"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KDIR" "$KDIR/.config" \
	"$KALLOC_TOP/scripts/kernel.config" >>"$log" 2>&1 || die "merging the config fragment failed (log: $log)"
kmake -s olddefconfig >>"$log" 2>&1 || die "make olddefconfig failed (log: $log)"

# Every option the fragment asks for must have stuck.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	name=${want#\# }
	name=${name%%[= ]*}
	if [[ "$want" == \#* ]]; then
		grep -q "^$name=" "$KDIR/.config" && { echo "kalloc: $name is set but must be off" >&2; bad=1; }
	else
		grep -qx "$want" "$KDIR/.config" || {
			echo "kalloc: $want requested, got: $(grep "^$name=\|# $name is not set" "$KDIR/.config" || echo 'absent')" >&2
			bad=1
		}
	fi
done <"$KALLOC_TOP/scripts/kernel.config"
[ $bad = 0 ] || die "kernel config: requested options did not stick (config: $KDIR/.config)"

kmake -s rustavailable >>"$log" 2>&1 || die "the Rust toolchain is not usable for this kernel (log: $log)"

note "building the kernel (about 6 minutes on 2 cores; log: $log)"
start=$(date +%s)
set +e
kmake -j"$(nproc)" all 2>&1 | tee -a "$log" | awk -v start="$start" '
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
