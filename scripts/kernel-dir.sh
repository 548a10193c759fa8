# Sourced: sets KSRC_TARBALL, KDIR_DEFAULT and KDIR for the kernel kalloc
# builds against. KDIR from the environment (or make) overrides the default.
# shellcheck shell=bash

KSRC_ROOT=$KALLOC_CACHE/src
KSRC_TARBALL=$(ls "$KSRC_ROOT"/usr/src/linux-source-"$KERNEL_SERIES".tar.* 2>/dev/null | head -n1 || true)
if [ -f "$KSRC_ROOT/version" ]; then
	KSRC_VERSION=$(cat "$KSRC_ROOT/version")
elif [ -n "$KSRC_TARBALL" ]; then
	KSRC_VERSION=$KERNEL_SERIES-$(sha256sum "$KSRC_TARBALL" | cut -c1-12)
	echo "$KSRC_VERSION" >"$KSRC_ROOT/version"
else
	KSRC_VERSION=
fi
KSRC=$KALLOC_CACHE/linux-$KSRC_VERSION

# The build is keyed by everything that changes its output: the kernel
# source version, the config fragment and the toolchain.
kernel_build_key() {
	{
		cat "$KALLOC_TOP/scripts/kernel.config"
		echo "LLVM=$LLVM_SUFFIX"
		rustc --version
		bindgen --version 2>/dev/null
		"clang$LLVM_SUFFIX" --version | head -n1
	} | sha256sum | cut -c1-12
}

if [ -n "$KSRC_VERSION" ]; then
	KDIR_DEFAULT=$KALLOC_CACHE/build/$KSRC_VERSION-$(kernel_build_key)
else
	KDIR_DEFAULT=
fi
KDIR=${KDIR:-$KDIR_DEFAULT}
