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
    suites_of(&module_path(top))
}

/// The suites the module `ko` registers (its `.kunit_test_suites`).
fn suites_of(ko: &Path) -> Result<Vec<String>, String> {
    let elf = std::fs::read(ko).map_err(|e| format!("cannot read {}: {e}", ko.display()))?;
    crate::elf::kunit_suites(&elf).map_err(|e| format!("{}: {e}", ko.display()))
}

/// A driver author's own modules for the VM (`make run MODULES="a.ko
/// b.ko"`): the paths in `list`, which must name `.ko` files that exist.
pub fn user_modules(list: &str) -> Result<Vec<PathBuf>, String> {
    list.split_whitespace()
        .map(|m| {
            let path = PathBuf::from(m);
            if path.extension().is_none_or(|e| e != "ko") {
                return Err(format!("MODULES: {m} is not a kernel module (NAME.ko)"));
            }
            if !path.is_file() {
                return Err(format!("MODULES: no module at {m}"));
            }
            std::path::absolute(&path).map_err(|e| format!("MODULES: {m}: {e}"))
        })
        .collect()
}

/// The step that loads, checks and unloads the user's module `ko` in the
/// VM (`scripts/vm/module-step`): `module-NAME`.
pub fn module_step(ko: &Path) -> String {
    format!(
        "module-{}",
        ko.file_stem().unwrap_or_default().to_string_lossy()
    )
}

/// The line by which a step of `scripts/vm/steps.d` names the suite it
/// needs; a step without one belongs to full runs only.
const STEP_SUITE: &str = "# kalloc-vm-suite: ";

/// The steps `/init` runs (`scripts/vm/steps.d`), by name: all of them, or
/// with a suite filter, those whose suite it selects.
pub fn steps(top: &Path, filter: Option<&str>) -> Result<Vec<String>, String> {
    let dir = top.join("scripts/vm/steps.d");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let path = e.map_err(|e| e.to_string())?.path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let needs = text.lines().find_map(|l| l.strip_prefix(STEP_SUITE));
        let wanted = match (filter, needs) {
            (None, _) => true,
            (Some(glob), Some(suite)) => suite_matches(glob, suite.trim()),
            (Some(_), None) => false,
        };
        if wanted {
            names.push(
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    names.sort();
    Ok(names)
}

/// Whether KUnit's filter `glob` (`suite_glob` or `suite_glob.test_glob`,
/// `*` and `?` wildcards) selects `suite`.
pub fn suite_matches(glob: &str, suite: &str) -> bool {
    let suite_glob = glob.split('.').next().unwrap_or(glob);
    glob_match(suite_glob.as_bytes(), suite.as_bytes())
}

fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    match (glob.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&glob[1..], text) || (!text.is_empty() && glob_match(glob, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&glob[1..], &text[1..]),
        (Some(g), Some(t)) if g == t => glob_match(&glob[1..], &text[1..]),
        _ => false,
    }
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
    // `make test SUITE=glob`: only the suites KUnit's filter selects.
    let filter = std::env::var("SUITE").ok().filter(|s| !s.is_empty());
    let modules = user_modules(&std::env::var("MODULES").unwrap_or_default())?;
    run_with(top, filter.as_deref(), &modules, &log_path(top))
}

/// [`run`] with the suite filter `filter` (`SUITE=`) and the user's
/// modules `modules` (`MODULES=`), loaded after kalloc's steps (their
/// suites, if any, and their steps count as kalloc's do), logging to
/// `log_path` (the files made of the log go beside it).
pub fn run_with(
    top: &Path,
    filter: Option<&str>,
    modules: &[PathBuf],
    log_path: &Path,
) -> Result<Run, String> {
    let mut suites = expected_suites(top)?;
    let mut steps = steps(top, filter)?;
    for ko in modules {
        suites.extend(suites_of(ko)?);
        steps.push(module_step(ko));
    }
    suites.retain(|s| filter.is_none_or(|glob| suite_matches(glob, s)));
    let expect = Expect {
        module: "kalloc".into(),
        suites,
        token: new_token(),
        steps,
        // Known once the VM ran (`run-vm.sh` copies the kernel's `.config`).
        kernel_options: None,
    };
    let module_list: Vec<String> = modules.iter().map(|m| m.display().to_string()).collect();
    let log_path = log_path.to_path_buf();
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // The script removes it too; here, so that progress never shows the
    // previous run.
    let _ = std::fs::remove_file(&log_path);
    let mut child = Command::new(top.join("scripts/run-vm.sh"))
        .current_dir(top)
        .env("VM_LOG", &log_path)
        .env("VM_TOKEN", &expect.token)
        .env("VM_STEPS", expect.steps.join(" "))
        .env("VM_FILTER", filter.unwrap_or(""))
        .env("VM_MODULES", module_list.join(" "))
        .spawn()
        .map_err(|e| format!("cannot run scripts/run-vm.sh: {e}"))?;
    // Follow the log while the VM runs, and say what happens in it.
    let mut progress = Progress::default();
    let status = loop {
        let done = child
            .try_wait()
            .map_err(|e| format!("waiting for the VM: {e}"))?;
        if let Ok(bytes) = std::fs::read(&log_path) {
            progress.feed(&bytes);
        }
        match done {
            Some(status) => break status,
            None => std::thread::sleep(std::time::Duration::from_millis(250)),
        }
    };
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
    let expect = Expect {
        kernel_options: std::fs::read_to_string(log_path.with_file_name("kernel.config"))
            .ok()
            .map(|c| verdict::kernel_options(&c)),
        ..expect
    };
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
    for (case, option) in &v.skipped {
        out += &format!("  - skipped: {case} (the kernel lacks {option})\n");
    }
    for p in &v.problems {
        out += &format!("  - {}: {p}\n", p.kind());
    }
    out
}

/// Live progress of a run, on standard error as the serial log grows: the
/// steps of `/init` and each suite's verdict as it finishes. Written to the
/// stream itself, so that a test harness that captures `eprintln!` shows
/// it too.
#[derive(Default)]
struct Progress {
    /// How many bytes of the log are done with.
    seen: usize,
    /// Whether kalloc is being loaded or was: suites count from there.
    loading: bool,
}

impl Progress {
    /// Reports the complete lines of `log` not seen yet.
    fn feed(&mut self, log: &[u8]) {
        use std::io::Write;
        let Some(new) = log.get(self.seen..) else {
            // A new log (the run removed the old one): start over.
            *self = Progress::default();
            return;
        };
        let Some(end) = new.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let text = String::from_utf8_lossy(&new[..=end]);
        self.seen += end + 1;
        let mut out = std::io::stderr().lock();
        for line in text.lines() {
            let line = crate::ktap::strip_timestamp(line);
            if let Some(marker) = line.strip_prefix("kalloc-vm: ") {
                if marker == "insmod" {
                    self.loading = true;
                    let _ = writeln!(out, "kalloc: vm: loading kalloc, its suites run");
                } else if let Some(step) = marker.strip_prefix("step ") {
                    let _ = writeln!(out, "kalloc: vm: step {step}");
                } else if marker.starts_with("rmmod") || marker.starts_with("kmemleak scan") {
                    let _ = writeln!(out, "kalloc: vm: {marker}");
                }
            } else if self.loading && !line.starts_with(' ') {
                if let Some(rest) = line.strip_prefix("not ok ") {
                    let _ = writeln!(
                        out,
                        "  FAIL  {}",
                        rest.split_once(' ').map_or(rest, |r| r.1)
                    );
                } else if let Some(rest) = line.strip_prefix("ok ") {
                    let _ = writeln!(
                        out,
                        "  ok    {}",
                        rest.split_once(' ').map_or(rest, |r| r.1)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_globs_select_as_kunit_does() {
        assert!(suite_matches("kalloc_slab", "kalloc_slab"));
        assert!(!suite_matches("kalloc_slab", "kalloc_slabs"));
        assert!(suite_matches("kalloc_*", "kalloc_gfp"));
        assert!(suite_matches("kalloc_?fp", "kalloc_gfp"));
        assert!(!suite_matches("kalloc_?fp", "kalloc_pages"));
        // `suite.test`: the suite part selects the suite.
        assert!(suite_matches("kalloc_devm.edu_*", "kalloc_devm"));
        assert!(!suite_matches("kalloc_devm.edu_*", "kalloc_gfp"));
        assert!(suite_matches("*", "anything"));
    }

    #[test]
    fn steps_follow_the_filter() {
        let top = top_dir();
        let all = steps(&top, None).unwrap();
        assert!(all.contains(&"edu-rebind".to_string()) && all.contains(&"sample".to_string()));
        assert_eq!(
            steps(&top, Some("kalloc_devm")).unwrap(),
            vec!["edu-rebind"]
        );
        assert!(steps(&top, Some("kalloc_gfp")).unwrap().is_empty());
    }
}
