//! The end-to-end test: boot the test kernel, load kalloc, and require
//! every KUnit case of every kalloc suite to pass with a clean kernel log.
//!
//! Needs the kernel and module built first: `make test` does that.

use kalloc_harness::vm;

#[test]
fn kalloc_self_tests_pass_in_the_vm() {
    let top = vm::top_dir();
    let run = vm::run(&top).unwrap_or_else(|why| panic!("kalloc: FAIL (vm): {why}"));
    let log = run.log_path.display().to_string();
    eprint!("{}", vm::summary(&run.verdict));
    let headline = run.verdict.headline(&log);
    eprintln!("{headline}");
    assert!(run.verdict.passed(), "{headline}");
}
