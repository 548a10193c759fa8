# Sourced after common.sh (which picks the flavour): sets KSRC_TARBALL, KSRC,
# KERNEL_FRAGMENTS, KDIR_DEFAULT and KDIR for the kernel kalloc builds
# against. KDIR from the environment (or make) overrides the default.
# shellcheck shell=bash

KSRC_ROOT=$KALLOC_CACHE/src
KSRC_TARBALL=$(ls "$KSRC_ROOT"/usr/src/linux-source-"$KERNEL_SERIES".tar.* 2>/dev/null | head -n1 || true)
if [ -f "$KSRC_ROOT/version-$KERNEL_SERIES" ]; then
	KSRC_VERSION=$(cat "$KSRC_ROOT/version-$KERNEL_SERIES")
elif [ -n "$KSRC_TARBALL" ]; then
	KSRC_VERSION=$KERNEL_SERIES-$(sha256sum "$KSRC_TARBALL" | cut -c1-12)
	echo "$KSRC_VERSION" >"$KSRC_ROOT/version-$KERNEL_SERIES"
else
	KSRC_VERSION=
fi
KSRC=$KALLOC_CACHE/linux-$KSRC_VERSION

# compat is debug with its own changes on top; a later fragment's line for an
# option replaces an earlier one's.
KERNEL_FRAGMENTS=("$KALLOC_TOP/scripts/kernel/base.config")
if [ "$KERNEL" = compat ]; then
	KERNEL_FRAGMENTS+=("$KALLOC_TOP/scripts/kernel/debug.config")
fi
KERNEL_FRAGMENTS+=("$KALLOC_TOP/scripts/kernel/$KERNEL.config")

# The environment variables that Kbuild reads and that change what it builds.
kbuild_env() {
	env | grep -E '^(KCFLAGS|KCPPFLAGS|KAFLAGS|KRUSTFLAGS|KBUILD_[A-Z_]+|ARCH|CROSS_COMPILE|CC|LD|HOSTCC|HOSTRUSTC|RUSTC|BINDGEN|LLVM_IAS)=' | sort || true
}

# The build is keyed by everything that shapes it: the kernel source version
# (in the directory name), the flavour's config fragments, the script that
# builds it, the toolchain and Kbuild's environment.
kernel_build_key() {
	{
		cat "${KERNEL_FRAGMENTS[@]}" "$KALLOC_TOP/scripts/build-kernel.sh"
		echo "${KMAKE_TOOLS[*]}"
		rustc --version
		bindgen --version 2>/dev/null
		if [ "$KERNEL_CC" = clang ]; then "clang$LLVM_SUFFIX" --version; else gcc --version; fi | head -n1
		kbuild_env
	} | sha256sum | cut -c1-12
}

# Checks the kernel config $1 against the fragments that follow: every
# option they set must be set the same, every option they turn off must be
# off; for an option two fragments name, the later one counts. Prints one
# line per mismatch on stderr; fails if there is any.
kernel_config_check() {
	local config=$1 bad=0 line want name
	local -A wanted=()
	local -a order=()
	shift
	[ -f "$config" ] || { echo "kalloc: no kernel config at $config" >&2; return 1; }
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) want=$line ;;
		"# CONFIG_"*" is not set") want=$line ;;
		*) continue ;;
		esac
		name=${want#\# }
		name=${name%%[= ]*}
		[ -n "${wanted[$name]:-}" ] || order+=("$name")
		wanted[$name]=$want
	done < <(cat "$@")
	for name in "${order[@]}"; do
		want=${wanted[$name]}
		if [[ "$want" == \#* ]]; then
			grep -q "^$name=" "$config" && { echo "kalloc: $name is set but must be off" >&2; bad=1; }
		else
			grep -qx "$want" "$config" || {
				echo "kalloc: $want requested, got: $(grep "^$name=\|# $name is not set" "$config" || echo 'absent')" >&2
				bad=1
			}
		fi
	done
	return $bad
}

if [ -n "$KSRC_VERSION" ]; then
	KDIR_DEFAULT=$KALLOC_CACHE/build/$KSRC_VERSION-$KERNEL-$(kernel_build_key)
else
	KDIR_DEFAULT=
fi
KDIR=${KDIR:-$KDIR_DEFAULT}

# Checks that $KDIR is a built tree a Rust module can be built against, or dies
# with one line that says why not (Kbuild would fail deep inside, or with
# hundreds of lines).
kdir_check() {
	local missing f built_with here
	[ -f "$KDIR/Module.symvers" ] || [ -f "$KDIR/.kalloc-built" ] || [ -f "$KDIR/vmlinux" ] \
		|| die "no built kernel at $KDIR: run 'make kernel'"
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
}
