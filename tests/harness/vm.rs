//! Runs kalloc's test VM (`scripts/run-vm.sh`) and judges its log.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::verdict::{self, Exit, Verdict};

/// The exit status `timeout(1)` gives when it had to kill QEMU.
const TIMEOUT_STATUS: i32 = 124;

/// The project's top directory (where Cargo.toml is).
pub fn top_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the serial log of the last run is kept.
pub fn log_path(top: &Path) -> PathBuf {
    top.join("target/vm/serial.log")
}

/// The suites kalloc declares: every `#[kunit_tests(NAME)]` under `src/`.
pub fn expected_suites(top: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut dirs = vec![top.join("src")];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                names.extend(verdict::declared_suites(&std::fs::read_to_string(&p)?));
            }
        }
    }
    Ok(names)
}

/// The outcome of one boot.
pub struct Run {
    pub verdict: Verdict,
    pub log_path: PathBuf,
}

/// Boots the VM once and judges the log. `Err` means the VM could not be
/// started at all (missing kernel, module or QEMU): a one-line reason.
pub fn run(top: &Path) -> Result<Run, String> {
    let expected = expected_suites(top).map_err(|e| format!("cannot read src/: {e}"))?;
    let log_path = log_path(top);
    let status = Command::new(top.join("scripts/run-vm.sh"))
        .current_dir(top)
        .env("VM_LOG", &log_path)
        .status()
        .map_err(|e| format!("cannot run scripts/run-vm.sh: {e}"))?;
    let exit = match status.code() {
        Some(0) => Exit::Exited,
        Some(TIMEOUT_STATUS) => Exit::TimedOut,
        // QEMU's own failure, or a set-up error the script already named.
        _ if !log_path.exists() => {
            return Err(format!(
                "the VM did not start ({status}); see the messages above"
            ))
        }
        _ => Exit::Exited,
    };
    let log =
        std::fs::read(&log_path).map_err(|e| format!("cannot read {}: {e}", log_path.display()))?;
    let log = String::from_utf8_lossy(&log);
    let verdict = verdict::judge(&log, exit, &expected, "kalloc");
    std::fs::write(
        log_path.with_file_name("kalloc.ktap"),
        crate::ktap::to_ktap(&verdict.parsed),
    )
    .map_err(|e| format!("cannot write kalloc.ktap: {e}"))?;
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
