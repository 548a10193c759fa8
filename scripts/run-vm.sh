#!/usr/bin/env bash
# Boots kalloc's test kernel under QEMU (TCG) with a generated busybox
# initramfs that loads kalloc.ko, and keeps the serial log.
#
# usage: run-vm.sh (make run and make test run it through the harness)
#   KDIR        built kernel (default: the cached build)
#   VM_TIMEOUT  hard timeout in seconds (default 600)
#   VM_LOG      serial log (default target/vm/serial.log)
#   VM_ECHO=1   also copy the serial output to stdout while it runs
#   VM_TOKEN    this run's token, put on the kernel command line; /init
#               prints it back, so the log proves it is this run's
#   VM_FILTER   KUnit's filter glob (kunit.filter_glob), for one-suite runs
#   VM_STEPS    the steps of scripts/vm/steps.d to pack (default: all)
#   VM_MODULES  a driver author's own modules to load after kalloc's
#               steps, each with its own step (make run MODULES=...)
#   VM_BENCH=1  load kalloc_bench.ko instead, on one CPU with -icount
#               shift=0 (the guest clock counts guest instructions)
# Exit status: 0 when QEMU exited by itself, 124 (or 137, killed) on
# timeout, else an error (the script's or QEMU's).
set -euo pipefail
out=$(cd "$(dirname "$0")/.." && pwd)/target/vm
log=${VM_LOG:-$out/serial.log}
# First of all: no earlier run's log may survive a failure of this one.
rm -f "$log"
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/kernel-dir.sh"
# The booted kernel's options, beside the log: the harness accepts a case
# skipped for a missing debugging option only if the kernel lacks it.
rm -f "$(dirname "$log")/kernel.config"

bench=${VM_BENCH:-0}
if [ "$bench" = 1 ]; then
	module=$KALLOC_TOP/target/kbuild/bench/kalloc_bench.ko
else
	module=$KALLOC_TOP/target/kbuild/src/kalloc.ko
fi
token=${VM_TOKEN:-none}
timeout_s=${VM_TIMEOUT:-600}
bzimage=$KDIR/arch/x86/boot/bzImage
gen_cpio=$KDIR/usr/gen_init_cpio

[ -f "$bzimage" ] || die "no kernel at $bzimage: run 'make kernel'"
[ -f "$module" ] || die "no module at $module: run 'make module'"
# The sample driver, for the sample step (runs without it leave it out).
sample=$KALLOC_TOP/target/kbuild/samples/rust_kalloc_sample.ko
if [ ! -f "$sample" ]; then
	case " ${VM_STEPS-sample} " in *" sample "*) die "no sample module at $sample: run 'make module'" ;; esac
	sample=
fi
# VM_MODULES="a.ko b.ko": a driver author's own modules. Each is loaded, put
# through its own step if it has one (a.step beside a.ko) and unloaded by
# the step module-a, after kalloc's steps.
user_modules=()
for m in ${VM_MODULES:-}; do
	case "$m" in *.ko) ;; *) die "MODULES: $m is not a kernel module (NAME.ko)" ;; esac
	[ -f "$m" ] || die "MODULES: no module at $m"
	user_modules+=("$m")
done
[ -x "$gen_cpio" ] || die "no gen_init_cpio in $KDIR/usr"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found: run 'make setup'"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: run 'make setup'"

mkdir -p "$out"
# The sample's user-space half, static: the initramfs has no libc.
gcc -static -O2 -Wall -o "$out/kalloc-sample-ioctl" "$KALLOC_TOP/samples/kalloc_sample_ioctl.c" \
	|| die "could not build samples/kalloc_sample_ioctl.c"
list=$out/initramfs.list
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	for d in /bin /proc /sys /tmp /root /steps.d /modules; do echo "dir $d 0755 0 0"; done
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $KALLOC_TOP/scripts/vm/init 0755 0 0"
	if [ "$bench" = 1 ]; then
		echo "file /kalloc_bench.ko $module 0644 0 0"
	else
		echo "file /kalloc.ko $module 0644 0 0"
	fi
	[ -z "$sample" ] || echo "file /rust_kalloc_sample.ko $sample 0644 0 0"
	for m in "${user_modules[@]}"; do
		name=$(basename "$m" .ko)
		echo "file /modules/$name.ko $m 0644 0 0"
		[ ! -f "${m%.ko}.step" ] || echo "file /modules/$name.step ${m%.ko}.step 0755 0 0"
		echo "file /steps.d/module-$name $KALLOC_TOP/scripts/vm/module-step 0755 0 0"
	done
	echo "file /bin/kalloc-sample-ioctl $out/kalloc-sample-ioctl 0755 0 0"
	for step in "$KALLOC_TOP"/scripts/vm/steps.d/*; do
		name=$(basename "$step")
		if [ -n "${VM_STEPS+set}" ]; then
			case " $VM_STEPS " in *" $name "*) ;; *) continue ;; esac
		fi
		[ -f "$step" ] && echo "file /steps.d/$name $step 0755 0 0"
	done
} >"$list"
# Every file dated the guest's boot date (the bench VM's clock), not its
# mtime here: the same initramfs from every checkout and every build. Under
# -icount the few instructions that parsing other digits takes shift every
# later timer tick, and with them the page allocator's state.
"$gen_cpio" -t 1767225600 "$list" >"$out/initramfs.cpio" || die "could not build the initramfs"
cp "$KDIR/.config" "$(dirname "$log")/kernel.config"

# oops=panic panic=-1: a crash ends the VM at once. slub_debug=P poisons
# freed slab objects, so that a stale copy of a leaked pointer in freed
# memory cannot hide the leak from kmemleak, and so that memory from kmalloc
# is not zero by chance (kzalloc's zeroing is then observable).
# printk.devkmsg=on: /init's markers go through /dev/kmsg, unthrottled.
append="console=ttyS0 panic=-1 oops=panic printk.devkmsg=on kalloc_vm_token=$token"
if [ "$bench" = 1 ]; then
	# One CPU and an instruction-counting clock: figures that do not
	# depend on the host's load. A fixed clock at boot, no KASLR, and a
	# clock that does not follow the host's while the guest idles
	# (sleep=off): the same boot every time, so figures that repeat.
	machine=(-smp 1 -icount shift=0,sleep=off -rtc base=2026-01-01T00:00:00,clock=vm)
	mem=1G
	# loglevel=4: no console output while measuring (/init prints the
	# results afterwards).
	# norandmaps: no address-space randomisation for /init and the
	# programs it runs. The kernel's random numbers differ from boot to
	# boot; with randomised stacks and mappings, user space took other
	# page-table pages each boot (up to 83 us of guest time apart by the
	# first benchmark row), which left the page allocator's free lists
	# in one of several states, and the order-4 row 1.3 % apart. Without,
	# two boots agree to the microsecond on every kernel log line.
	append="$append loglevel=4 kalloc_vm_bench=1 nokaslr norandmaps"
else
	# 512 MiB, 256 MiB a node: enough for every case on each node (the
	# largest takes 64 MiB of vmalloc; with 128 MiB a node, node 0's DMA32
	# zone ran out and ordinary allocations fell back to ZONE_DMA or the
	# other node), and the kernel sets up KASAN's shadow and the page
	# structures of every MiB before it prints a line (1 GiB took 3 s
	# longer than 256 MiB).
	mem=512M
	# No default devices (VGA, network card: nothing to probe at boot),
	# and no PCI or memory hot-plug methods in the ACPI tables: ACPI's
	# interpreter is slow under TCG with lockdep and KASAN, and the boot
	# was 6 s longer with them.
	# Two NUMA nodes, one CPU and half the memory each (a kernel without
	# CONFIG_NUMA sees one). One socket each: CPUs of one socket share a
	# cache, and the kernel WARNs about cache siblings on two nodes.
	machine=(-smp 2,sockets=2,cores=1,threads=1 -nodefaults -device edu
		-global PIIX4_PM.acpi-root-pci-hotplug=off
		-global PIIX4_PM.acpi-pci-hotplug-with-bridge-support=off
		-global PIIX4_PM.memory-hotplug-support=off
		-object memory-backend-ram,id=node0,size=256M
		-object memory-backend-ram,id=node1,size=256M
		-numa node,nodeid=0,cpus=0,memdev=node0
		-numa node,nodeid=1,cpus=1,memdev=node1)
	# page_poison=1: freed pages are poisoned (and checked when allocated
	# again) where the kernel has CONFIG_PAGE_POISONING (the debug flavour).
	# acpi=noirq: PCI interrupts routed by the BIOS's table, not by ACPI,
	# whose AML interpreter, under TCG and with lockdep and KASAN, made
	# every bind and unbind of edu take 2 s (kalloc_devm, the cycles and
	# edu-rebind steps do many). pty.legacy_count=0: no BSD ptys (their
	# 512 devices took 3.4 s of the boot; /init needs none).
	append="$append loglevel=7 slub_debug=P page_poison=1 acpi=noirq pty.legacy_count=0${VM_FILTER:+ kunit.filter_glob=$VM_FILTER}"
fi
qemu=(qemu-system-x86_64 -machine pc,accel=tcg "${machine[@]}" -m "$mem"
	-kernel "$bzimage" -initrd "$out/initramfs.cpio"
	-append "$append"
	-display none -monitor none -no-reboot
	-chardev "file,id=ser0,path=$log" -serial chardev:ser0)

# QEMU must never outlive this script: timeout kills it on a hang, the
# trap if we are interrupted.
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; exit 130' INT TERM HUP
if [ "${VM_ECHO:-0}" = 1 ]; then
	tail -n +1 -F "$log" 2>/dev/null &
	tailpid=$!
fi
set +e
timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null &
pid=$!
wait "$pid"
rc=$?
set -e
pid=
[ -n "${tailpid:-}" ] && { sleep 0.5; kill "$tailpid" 2>/dev/null || true; }
exit "$rc"
