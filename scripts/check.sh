#!/usr/bin/env bash
# make check: the kernel's own gates, before any VM boots. Any finding fails.
#  - rustfmt with the kernel's .rustfmt.toml on the library, its self-tests
#    the samples and the benchmarks (scripts/check.sh --fix rewrites them instead);
#  - rustfmt on the host harness (cargo fmt, its own defaults); both with
#    the default toolchain's rustfmt, whatever the flavour's rustc;
#  - every mutant of mutants/mutants.ini still applies;
#  - clippy through Kbuild (CLIPPY=1) with W=1, warnings as errors, built
#    apart from the modules the VM boots (target/kbuild-check).
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

cd "$KALLOC_TOP"
rustfmt_toml=$KSRC/.rustfmt.toml
[ -f "$rustfmt_toml" ] || die "no .rustfmt.toml in the kernel source ($KSRC): run 'make setup'"
mapfile -t sources < <(find src samples bench tests/outside -name '*.rs' | sort)
mkdir -p target

if [ "${1:-}" = --fix ]; then
	env -u RUSTUP_TOOLCHAIN rustfmt --config-path "$rustfmt_toml" --edition 2021 "${sources[@]}"
	env -u RUSTUP_TOOLCHAIN cargo fmt
	note "formatted ${#sources[@]} kernel-side files and the harness"
	exit 0
fi

if ! env -u RUSTUP_TOOLCHAIN rustfmt --check --config-path "$rustfmt_toml" --edition 2021 "${sources[@]}" >target/check-rustfmt.diff 2>&1; then
	grep '^Diff in' target/check-rustfmt.diff | sed 's/^/  /' | head -n 20 >&2
	die "rustfmt (kernel style) would change the files above: run 'make fmt' (diff: target/check-rustfmt.diff)"
fi
if ! env -u RUSTUP_TOOLCHAIN cargo fmt --check >target/check-cargo-fmt.diff 2>&1; then
	grep '^Diff in' target/check-cargo-fmt.diff | sed 's/^/  /' | head -n 20 >&2
	die "rustfmt would change the harness: run 'make fmt' (diff: target/check-cargo-fmt.diff)"
fi

# Every mutant must still apply to the code it was written for.
python3 scripts/mutants.py --check >/dev/null || die "mutants/mutants.ini: a mutant no longer applies (scripts/mutants.py --check)"

mkdir -p target/kbuild-check
log=target/kbuild-check/clippy.log
# Warnings are errors, so that an object with a finding is never left built
# (a later run would skip it and pass).
if ! kmake -s -j"$(nproc)" -C "$KDIR" M="$KALLOC_TOP" MO="$KALLOC_TOP/target/kbuild-check" \
	CLIPPY=1 W=1 KALLOC_BENCH=1 \
	KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror modules >"$log" 2>&1; then
	grep -E -A6 '^(error|warning)|error:' "$log" | head -n 40 >&2
	die "clippy / W=1 findings (log: $log)"
fi
note "check: rustfmt and clippy (W=1) clean"
