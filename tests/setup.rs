//! The set-up scripts on fake kernel trees and caches. Bad set-ups of
//! `make module` with `KDIR=` get one clear line: a kernel tree without
//! Rust, one without the Rust build outputs (as the headers packages of
//! distributions are), one built by another rustc; each fake tree below
//! passed the checks before it and fails exactly this one. `make kdir`
//! names the tree a build uses, and `make prune-kernels` keeps those.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fake kernel build tree in a fresh directory: a `vmlinux`, a `.config`
/// of `config`, and the files of `files` (empty).
fn fake_kdir(name: &str, config: &str, files: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kalloc-kdir-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rust")).unwrap();
    std::fs::write(dir.join("vmlinux"), "").unwrap();
    std::fs::write(dir.join(".config"), config).unwrap();
    for f in files {
        std::fs::write(dir.join(f), "").unwrap();
    }
    dir
}

/// The work tree.
fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `scripts/build-module.sh` against `kdir`: its exit status and stderr.
fn build_against(kdir: &Path) -> (Option<i32>, String) {
    // The checks, not a flavour's toolchain, are under test: the default
    // flavour's rustc is this machine's (`rustc_here`).
    let out = Command::new(top().join("scripts/build-module.sh"))
        .current_dir(top())
        .env("KDIR", kdir)
        .env("KERNEL", "debug")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one line of a refused set-up.
fn refused(kdir: &Path) -> String {
    let (code, stderr) = build_against(kdir);
    let _ = std::fs::remove_dir_all(kdir);
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("kalloc: error: KDIR="), "{stderr}");
    lines[0].to_string()
}

/// The rustc of this machine, as the kernel's `.config` records it.
fn rustc_here() -> String {
    let out = Command::new("rustc").arg("--version").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const RUST_OUTPUTS: [&str; 3] = [
    "rust/libcore.rmeta",
    "rust/libkernel.rmeta",
    "rust/libmacros.so",
];

#[test]
fn a_kernel_without_rust_is_named() {
    let kdir = fake_kdir(
        "norust",
        "CONFIG_MODULES=y\n# CONFIG_RUST is not set\n",
        &RUST_OUTPUTS,
    );
    let line = refused(&kdir);
    assert!(
        line.contains("without Rust (CONFIG_RUST is not set)"),
        "{line}"
    );
}

#[test]
fn a_headers_package_without_rust_outputs_is_named() {
    let config = format!(
        "CONFIG_RUST=y\nCONFIG_RUSTC_VERSION_TEXT=\"{}\"\n",
        rustc_here()
    );
    let kdir = fake_kdir("headers", &config, &["rust/libcore.rmeta"]);
    let line = refused(&kdir);
    assert!(
        line.contains("lacks the kernel's Rust build outputs"),
        "{line}"
    );
    assert!(
        line.contains("rust/libkernel.rmeta rust/libmacros.so"),
        "{line}"
    );
    assert!(!line.contains("libcore"), "{line}");
}

#[test]
fn another_rustc_is_named() {
    let config =
        "CONFIG_RUST=y\nCONFIG_RUSTC_VERSION_TEXT=\"rustc 1.85.1 (4eb161250 2025-03-15)\"\n";
    let kdir = fake_kdir("rustc", config, &RUST_OUTPUTS);
    let line = refused(&kdir);
    assert!(
        line.contains(
            "was built with rustc 1.85.1 (4eb161250 2025-03-15), but the rustc here is rustc "
        ),
        "{line}"
    );
}

#[test]
fn a_tree_that_is_not_configured_is_named() {
    let kdir = fake_kdir("noconfig", "", &RUST_OUTPUTS);
    std::fs::remove_file(kdir.join(".config")).unwrap();
    let line = refused(&kdir);
    assert!(line.contains("has no .config"), "{line}");
}

/// `make kdir` for `flavour` with the cache `cache`: the tree it names.
fn kdir_of(cache: &Path, flavour: &str) -> PathBuf {
    let out = Command::new(top().join("scripts/kdir.sh"))
        .env("KALLOC_CACHE", cache)
        .env("KERNEL", flavour)
        .env_remove("KDIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn prune_keeps_the_kernels_of_every_flavour_and_removes_the_rest() {
    let cache = std::env::temp_dir().join(format!("kalloc-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(cache.join("src")).unwrap();
    std::fs::write(cache.join("src/version-7.3"), "7.3.4-test\n").unwrap();
    std::fs::write(cache.join("src/version-7.2"), "7.2.12-test\n").unwrap();
    let debug = kdir_of(&cache, "debug");
    let fast = kdir_of(&cache, "fast");
    let compat = kdir_of(&cache, "compat");
    assert_ne!(debug, fast);
    let named = |dir: &Path, prefix: &str| {
        let prefix = cache.join(prefix);
        dir.to_string_lossy()
            .starts_with(&*prefix.to_string_lossy())
    };
    assert!(
        named(&debug, "build/7.3.4-test-debug-"),
        "{}",
        debug.display()
    );
    assert!(named(&fast, "build/7.3.4-test-fast-"), "{}", fast.display());
    assert!(
        named(&compat, "build/7.2.12-test-compat-"),
        "{}",
        compat.display()
    );
    let stale = [
        cache.join("build/7.3.4-test-debug-000000000000"),
        cache.join("build/7.2.12-fast-111111111111"),
        cache.join("build/7.2.12-test-compat-222222222222"),
    ];
    for dir in [&debug, &fast, &compat].into_iter().chain(&stale) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(".kalloc-built"), "").unwrap();
    }
    let out = Command::new(top().join("scripts/prune-kernels.sh"))
        .env("KALLOC_CACHE", &cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(
        debug.is_dir() && fast.is_dir() && compat.is_dir(),
        "{stderr}"
    );
    for dir in &stale {
        assert!(!dir.exists(), "{stderr}");
        assert!(
            stderr.contains(&format!("removed {}", dir.display())),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn modules_for_the_vm_must_be_modules_that_exist() {
    use kalloc_harness::vm;
    assert_eq!(vm::user_modules("").unwrap(), Vec::<PathBuf>::new());
    let err = vm::user_modules("/nonexistent/my_driver.ko").unwrap_err();
    assert_eq!(err, "MODULES: no module at /nonexistent/my_driver.ko");
    let err = vm::user_modules("Cargo.toml").unwrap_err();
    assert_eq!(err, "MODULES: Cargo.toml is not a kernel module (NAME.ko)");
    let ko = std::env::temp_dir().join(format!("kalloc-mod-{}.ko", std::process::id()));
    std::fs::write(&ko, "").unwrap();
    let list = format!("{}  {}", ko.display(), ko.display());
    assert_eq!(vm::user_modules(&list).unwrap(), [ko.clone(), ko.clone()]);
    assert_eq!(
        vm::module_step(&ko),
        format!("module-kalloc-mod-{}", std::process::id())
    );
    let _ = std::fs::remove_file(&ko);
}
