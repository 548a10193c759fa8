#!/usr/bin/env bash
# make doc: rustdoc HTML of the kalloc library, as a driver author uses it
# (no self-tests), linked to the kernel crate's own docs as the kernel's
# `make rustdoc` renders them. A broken intra-doc link fails it.
#
# The library is documented with the exact flags Kbuild compiled it with
# for the sample driver (target/kbuild/samples/.kalloc_lib.o.cmd), as
# rustdoc takes them.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

cd "$KALLOC_TOP"
cmdfile=target/kbuild/samples/.kalloc_lib.o.cmd
[ -f "$cmdfile" ] || die "the library is not built: run 'make module'"

kdocs=$KDIR/Documentation/output/rust/rustdoc
if [ ! -f "$kdocs/kernel/index.html" ]; then
	note "rendering the kernel crate's docs (make rustdoc, once per kernel build)"
	kmake -s -C "$KDIR" rustdoc >target/doc-kernel.log 2>&1 \
		|| die "the kernel's make rustdoc failed (log: target/doc-kernel.log)"
fi

out=$KALLOC_TOP/target/doc
# Up to date: nothing that shapes the docs is newer than the last render.
stamp=$out/.kalloc-stamp
if [ -f "$stamp" ] && [ -z "$(find src "$cmdfile" "$0" "$kdocs/kernel/index.html" -newer "$stamp" -print -quit)" ]; then
	note "docs: file://$out/kalloc/index.html (up to date)"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
touch "$stamp.new"
# The saved rustc command, less what rustdoc does not take.
cmd=$(sed -n 's/^savedcmd_[^ ]* := //p' "$cmdfile" | sed -E \
	-e 's/ rustc / rustdoc /' \
	-e 's/--emit=[^ ]*//g' -e 's/--out-dir [^ ]*//' \
	-e 's/-C(embed-bitcode|lto|codegen-units)=[^ ]*//g' \
	-e 's/-Z(function-sections|binary_dep_depinfo)=[^ ]*//g' \
	-e 's/--remap-path-(scope|prefix)=[^ ]*//g')
[ -n "$cmd" ] || die "no compile command in $cmdfile"
links="-Zunstable-options"
for crate in kernel pin_init macros ffi; do
	links="$links --extern-html-root-url=$crate=file://$kdocs/"
done
# What kalloc.kbuild generates for the library, beside the sample's objects.
(cd target/kbuild && KALLOC_GENERATED=$PWD/samples RUSTC_BOOTSTRAP=1 eval "$cmd -o $out $links \
	-Drustdoc::broken_intra_doc_links -Drustdoc::private_intra_doc_links \
	-Drustdoc::invalid_codeblock_attributes") \
	|| die "rustdoc failed (see above)"
mv "$stamp.new" "$stamp"
note "docs: file://$out/kalloc/index.html"
