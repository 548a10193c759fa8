# kalloc: safe Rust wrappers for the kernel's memory allocators.
#
#   make run    set up on first use, build, boot the VM, load kalloc and
#               print a per-suite summary
#   make test   make check and make doc, then the same as make run, judged by the Rust
#               harness (cargo test) and by the kernel's own kunit.py
#               parser; fails on any problem. SUITE=glob: only the
#               matching suites (and the steps they need), no check or doc
#   make check  rustfmt (kernel style) and clippy with W=1; make fmt fixes
#               the formatting
#   make doc    the library's API documentation, target/doc/kalloc/index.html
#   make bench  instructions per allocate + free, C against kalloc and the
#               kernel crate, on the fast kernel: target/bench/
#   make mutants  the suites against mutants/mutants.ini: every mutant must
#               be killed (about 40 minutes)
#   make kdir   prints the kernel build tree a build uses
#   make prune-kernels  removes the cached kernels no flavour uses any more
#
# The module itself is built by Kbuild (see Kbuild); this file only drives
# the scripts. KDIR=/path/to/built/kernel overrides the cached kernel;
# KERNEL=fast selects the production-like flavour, the quick loop: there
# a case that needs a debugging option the kernel lacks is skipped, naming
# it. KERNEL=compat is Linux 7.2 built with GCC and rustc 1.85.1, as
# distributions build it. make test without it judges the debug kernel;
# CI runs both debug and compat.

SHELL := /bin/bash
export KDIR KERNEL SUITE MODULES
# rustup's tools, also when the caller's PATH lacks them (CI).
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: all setup kernel kdir prune-kernels module check fmt doc run test bench mutants rust-analyzer clean

all: module

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh >/dev/null

module: kernel
	@scripts/build-module.sh modules

# The kernel tree a build uses (KERNEL=, KDIR= as elsewhere).
kdir:
	@scripts/kdir.sh

# Removes the cached kernel builds that neither flavour uses any more.
prune-kernels:
	@scripts/prune-kernels.sh

check: kernel
	@scripts/check.sh

fmt: kernel
	@scripts/check.sh --fix

doc: module
	@scripts/doc.sh

run: module
	@$(CARGO) run -q --bin kalloc-vm

# make test SUITE=glob is the edit-and-retry loop: the module and the
# matching suites only (make check and make doc are for the full run).
test: $(if $(SUITE),module,check doc)
	@scripts/check-kernel.sh
	@$(CARGO) test
	@scripts/kunit-parse.sh target/vm/kalloc.raw.log

# On the production-like kernel (target-specific: its prerequisites build
# for it too). BENCH_RUNS=n boots n times (default 2) and checks that the
# figures repeat.
bench: KERNEL = fast
bench: export KALLOC_BENCH = 1
bench: module
	@$(CARGO) run -q --bin kalloc-bench

# MUTANT=glob: only the mutants whose names match.
mutants: module
	@scripts/mutants.py $(MUTANT)

rust-analyzer: export KALLOC_BENCH = 1
rust-analyzer: kernel
	@scripts/build-module.sh rust-analyzer
	@scripts/rust-project.py target/kbuild/rust-project.json rust-project.json
	@echo "kalloc: wrote rust-project.json"

clean:
	rm -rf target rust-project.json
