#!/usr/bin/env bash
# Second, independent check of kalloc's KTAP: the kernel's own parser,
# tools/testing/kunit/kunit.py, on the module's part of the serial log as
# it is (target/vm/kalloc.raw.log), not on the harness's rendering of it.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"

ktap=${1:?usage: kunit-parse.sh LOG}
ktap=$(realpath -m "$ktap")
[ -s "$ktap" ] || die "no KTAP to check at $ktap (did the VM run?)"
src=$KDIR/source
[ -d "$src/tools/testing/kunit" ] || src=$KDIR
kunit=$src/tools/testing/kunit/kunit.py
[ -f "$kunit" ] || die "kunit.py not found under $KDIR"
if ! out=$(python3 "$kunit" parse "$ktap" 2>&1); then
	echo "$out" | tail -n 30 >&2
	die "kunit.py parse reports failures (ktap: $ktap, log: ${ktap%/*}/serial.log)"
fi
echo "$out" | grep -E 'Testing complete|Ran [0-9]+ tests|^\[.*\] =+ \[' | tail -n 3
