//! Runs kalloc's test VM (`scripts/run-vm.sh`) and judges its log.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::verdict::{self, Exit, Expect, Verdict};

/// The exit status `timeout(1)` gives when it had to kill QEMU.
const TIMEOUT_STATUS: i32 = 124;
/// The exit status when QEMU ignored the timeout's TERM and was killed.
const KILLED_STATUS: i32 = 137;

/// The project's top directory (where Cargo.toml is).
pub fn top_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the serial log of the last run is kept.
pub fn log_path(top: &Path) -> PathBuf {
    top.join("target/vm/serial.log")
}

/// Where the module under test is built.
pub fn module_path(top: &Path) -> PathBuf {
    top.join("target/kbuild/src/kalloc.ko")
}

/// The suites the built module registers (its `.kunit_test_suites`).
pub fn expected_suites(top: &Path) -> Result<Vec<String>, String> {
    let ko = module_path(top);
    let elf = std::fs::read(&ko).map_err(|e| format!("cannot read {}: {e}", ko.display()))?;
    crate::elf::kunit_suites(&elf).map_err(|e| format!("{}: {e}", ko.display()))
}

/// The steps `/init` runs (`scripts/vm/steps.d`), by name.
pub fn steps(top: &Path) -> Result<Vec<String>, String> {
    let dir = top.join("scripts/vm/steps.d");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        if e.path().is_file() {
            names.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// A token for one run, different each time.
fn new_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

/// The outcome of one boot.
pub struct Run {
    pub verdict: Verdict,
    pub log_path: PathBuf,
}

/// Boots the VM once and judges the log. `Err` means the VM could not be
/// started at all (missing kernel, module or QEMU): a one-line reason.
pub fn run(top: &Path) -> Result<Run, String> {
    let expect = Expect {
        module: "kalloc".into(),
        suites: expected_suites(top)?,
        token: new_token(),
        steps: steps(top)?,
    };
    let log_path = log_path(top);
    let status = Command::new(top.join("scripts/run-vm.sh"))
        .current_dir(top)
        .env("VM_LOG", &log_path)
        .env("VM_TOKEN", &expect.token)
        .status()
        .map_err(|e| format!("cannot run scripts/run-vm.sh: {e}"))?;
    let exit = match status.code() {
        Some(0) => Exit::Exited,
        Some(TIMEOUT_STATUS | KILLED_STATUS) => Exit::TimedOut,
        // A set-up error the script already named, or QEMU's own failure:
        // whatever log there is proves nothing.
        _ => {
            return Err(format!(
                "scripts/run-vm.sh failed ({status}); see the messages above"
            ))
        }
    };
    let log =
        std::fs::read(&log_path).map_err(|e| format!("cannot read {}: {e}", log_path.display()))?;
    let log = String::from_utf8_lossy(&log);
    let verdict = verdict::judge(&log, exit, &expect);
    let write = |name: &str, text: &str| {
        std::fs::write(log_path.with_file_name(name), text)
            .map_err(|e| format!("cannot write {name}: {e}"))
    };
    // For the kernel's own parser: the module's part of the log, as it is.
    write("kalloc.raw.log", verdict::module_part(&log))?;
    write("kalloc.ktap", &crate::ktap::to_ktap(&verdict.parsed))?;
    Ok(Run { verdict, log_path })
}

/// A per-suite table, one line a suite, for people.
pub fn summary(v: &Verdict) -> String {
    let mut out = String::new();
    for s in &v.suites {
        let total = s
            .planned
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into());
        let state = if s.ok() { "PASS" } else { "FAIL" };
        out += &format!(
            "  {state}  {:<20} {:>3}/{:<3} ok{}{}{}\n",
            s.name,
            s.passed,
            total,
            if s.failed > 0 {
                format!(", {} failed", s.failed)
            } else {
                String::new()
            },
            if s.skipped > 0 {
                format!(", {} skipped", s.skipped)
            } else {
                String::new()
            },
            if s.finished { "" } else { ", did not finish" },
        );
    }
    for p in &v.problems {
        out += &format!("  - {}: {p}\n", p.kind());
    }
    out
}
