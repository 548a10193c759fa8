//! A driver author's module, outside kalloc's tree, built against kalloc
//! and run in kalloc's VM as `make run MODULES=...` runs it: loaded after
//! kalloc (here with only its shortest suite), put through its own step,
//! unloaded, and judged with the rest (crash, WARN, KASAN, kmemleak,
//! taint, a failed step or rmmod).
//!
//! Needs the kernel and module built first: `make test` does that.

use std::path::{Path, PathBuf};
use std::process::Command;

use kalloc_harness::vm;

/// `tests/outside/` copied to a fresh directory outside the work tree.
fn copy_out(top: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kalloc-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["Kbuild", "outside_main.rs", "kalloc_outside.step"] {
        std::fs::copy(top.join("tests/outside").join(name), dir.join(name)).unwrap();
    }
    dir
}

#[test]
fn a_module_outside_the_tree_is_built_loaded_judged_and_unloaded() {
    let top = vm::top_dir();
    let dir = copy_out(&top);
    let build = Command::new(top.join("scripts/build-external.sh"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let ko = dir.join("kalloc_outside.ko");
    let log = top.join("target/vm-outside/serial.log");
    let run = vm::run_with(&top, Some("kalloc_gfp"), &[ko], &log)
        .unwrap_or_else(|why| panic!("kalloc: FAIL (vm): {why}"));
    let headline = run.verdict.headline(&log.display().to_string());
    assert!(run.verdict.passed(), "{headline}");
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    for mark in ["insmod ok", "step ok", "rmmod ok"] {
        let mark = format!("kalloc-vm: module kalloc_outside: {mark}");
        assert!(text.contains(&mark), "no `{mark}` in {}", log.display());
    }
    assert!(
        text.contains("kalloc_outside: unloading: 7 100"),
        "{}",
        log.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
