//! Decides whether a VM run of kalloc passed, from its serial log.
//!
//! A run passes only if all of these hold:
//! - the VM finished by itself (the `/init` script's `kalloc-vm: done`
//!   marker is in the log) rather than hanging or crashing;
//! - `insmod` and `rmmod` of kalloc both succeeded, and no extra step of
//!   `/init` (`scripts/vm/steps.d/`) reported a failure;
//! - every expected suite is present, announced at least one case, ran all
//!   the cases it announced, and every case is `ok` (a skip is a failure:
//!   a skipped case proves nothing);
//! - the log holds no kernel error report (`BUG:`, `WARNING:`, `Oops`,
//!   `KASAN`, `UBSAN`, `Call Trace`, a panic) and kmemleak reported no leak.

use crate::ktap::{self, Status, Suite};

/// Printed by `scripts/vm/init` and its steps: every line of theirs starts
/// with this, and a step that fails says `FAILED`.
const MARK_PREFIX: &str = "kalloc-vm: ";
const MARK_INSMOD: &str = "kalloc-vm: insmod";
const MARK_INSMOD_OK: &str = "kalloc-vm: insmod ok";
const MARK_RMMOD_OK: &str = "kalloc-vm: rmmod ok";
const MARK_LEAKS_BEGIN: &str = "kalloc-vm: kmemleak report begin";
const MARK_LEAKS_END: &str = "kalloc-vm: kmemleak report end";
const MARK_DONE: &str = "kalloc-vm: done";

/// Substrings that mark a kernel error report anywhere in the log.
const KERNEL_ERRORS: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "KASAN",
    "UBSAN",
    "Call Trace",
    "Kernel panic",
    "kernel BUG at",
    "general protection fault",
];

/// How the VM process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// QEMU exited by itself.
    Exited,
    /// The hard timeout killed QEMU.
    TimedOut,
}

/// One reason a run failed. The first problem in [`Verdict::problems`] is
/// the most important one (see [`Problem::rank`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The VM did not finish within its time limit.
    Hang,
    /// A kernel error report (the first line of it).
    KernelError(String),
    /// The VM stopped before `/init` finished (crash or truncated log).
    Unfinished,
    /// `insmod kalloc.ko` failed.
    InsmodFailed,
    /// A suite started but never printed its result.
    SuiteUnfinished {
        suite: String,
        last_case: Option<String>,
    },
    /// A case reported `not ok`.
    CaseFailed { suite: String, case: String },
    /// A case was skipped.
    CaseSkipped {
        suite: String,
        case: String,
        reason: String,
    },
    /// The suite ran a different number of cases than it announced.
    PlanMismatch {
        suite: String,
        planned: Option<u32>,
        ran: usize,
    },
    /// The suite reported `not ok` although no case failed.
    SuiteFailed(String),
    /// An expected suite is not in the log.
    MissingSuite(String),
    /// A suite with no cases at all.
    EmptySuite(String),
    /// `rmmod kalloc` failed.
    RmmodFailed,
    /// An extra step of the VM's `/init` (`scripts/vm/steps.d/`) reported a
    /// failure (its `kalloc-vm: ... FAILED ...` line).
    StepFailed(String),
    /// kmemleak reported an unreferenced object (its first line).
    Leak(String),
    /// The kmemleak report is missing from the log.
    NoLeakReport,
}

impl Problem {
    /// Lower is more important: a hang or crash explains everything after.
    fn rank(&self) -> u8 {
        match self {
            Problem::Hang => 0,
            Problem::KernelError(_) => 1,
            Problem::Unfinished => 2,
            Problem::InsmodFailed => 3,
            Problem::SuiteUnfinished { .. } => 4,
            Problem::CaseFailed { .. } => 5,
            Problem::CaseSkipped { .. } => 6,
            Problem::PlanMismatch { .. } | Problem::SuiteFailed(_) => 7,
            Problem::MissingSuite(_) | Problem::EmptySuite(_) => 8,
            Problem::RmmodFailed | Problem::StepFailed(_) => 9,
            Problem::Leak(_) | Problem::NoLeakReport => 10,
        }
    }

    /// The kind of failure, as the one-line summary names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Hang => "hang (timeout)",
            Problem::KernelError(_) | Problem::Unfinished => "kernel crash",
            Problem::SuiteUnfinished { .. } => "unfinished suite",
            Problem::InsmodFailed => "insmod failed",
            Problem::CaseFailed { .. } | Problem::SuiteFailed(_) => "failing case",
            Problem::CaseSkipped { .. } => "skipped case",
            Problem::PlanMismatch { .. } => "wrong case count",
            Problem::MissingSuite(_) | Problem::EmptySuite(_) => "missing suite",
            Problem::RmmodFailed => "rmmod failed",
            Problem::StepFailed(_) => "failed step",
            Problem::Leak(_) | Problem::NoLeakReport => "memory leak",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Hang => write!(f, "the VM did not finish before its timeout"),
            Problem::KernelError(l) => write!(f, "kernel error report: {l}"),
            Problem::Unfinished => write!(f, "the VM stopped before /init finished"),
            Problem::InsmodFailed => write!(f, "insmod kalloc.ko failed"),
            Problem::SuiteUnfinished { suite, last_case } => match last_case {
                Some(c) => write!(f, "suite {suite} stopped after case {c}"),
                None => write!(f, "suite {suite} stopped before its first case"),
            },
            Problem::CaseFailed { suite, case } => write!(f, "{suite}.{case} failed"),
            Problem::CaseSkipped {
                suite,
                case,
                reason,
            } if reason.is_empty() => {
                write!(f, "{suite}.{case} was skipped")
            }
            Problem::CaseSkipped {
                suite,
                case,
                reason,
            } => {
                write!(f, "{suite}.{case} was skipped ({reason})")
            }
            Problem::PlanMismatch {
                suite,
                planned,
                ran,
            } => match planned {
                Some(p) => write!(f, "suite {suite} announced {p} cases but ran {ran}"),
                None => write!(f, "suite {suite} announced no plan"),
            },
            Problem::SuiteFailed(s) => write!(f, "suite {s} reported not ok"),
            Problem::MissingSuite(s) => write!(f, "suite {s} is missing from the log"),
            Problem::EmptySuite(s) => write!(f, "suite {s} has no cases"),
            Problem::RmmodFailed => write!(f, "rmmod kalloc failed"),
            Problem::StepFailed(l) => write!(f, "{l}"),
            Problem::Leak(l) => write!(f, "kmemleak: {l}"),
            Problem::NoLeakReport => write!(f, "no kmemleak report in the log"),
        }
    }
}

/// Per-suite counts for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteSummary {
    pub name: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub planned: Option<u32>,
    pub finished: bool,
}

impl SuiteSummary {
    /// Whether this suite, on its own, passed.
    pub fn ok(&self) -> bool {
        self.finished
            && self.failed == 0
            && self.skipped == 0
            && self.passed > 0
            && self.planned == Some(self.passed as u32)
    }
}

/// The judgement of one run.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// kalloc's suites in log order, then missing expected ones.
    pub suites: Vec<SuiteSummary>,
    /// kalloc's suites as parsed (for re-rendering as KTAP).
    pub parsed: Vec<Suite>,
    /// Everything wrong, most important first. Empty means pass.
    pub problems: Vec<Problem>,
}

impl Verdict {
    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// One line that says what happened, naming the log.
    pub fn headline(&self, log_path: &str) -> String {
        match self.problems.first() {
            None => {
                let cases: usize = self.suites.iter().map(|s| s.passed).sum();
                let distinct = self
                    .suites
                    .iter()
                    .filter(|s| !s.name.contains(" (run "))
                    .count();
                let reruns = match self.suites.len() - distinct {
                    0 => String::new(),
                    n => format!(" (+{n} run again)"),
                };
                format!(
                    "kalloc: PASS: {distinct} suites{reruns}, {cases} cases ok (log: {log_path})"
                )
            }
            Some(p) => {
                let more = match self.problems.len() {
                    1 => String::new(),
                    n => format!(" (+{} more)", n - 1),
                };
                format!("kalloc: FAIL ({}): {p}{more} (log: {log_path})", p.kind())
            }
        }
    }
}

/// The suite names declared in Rust sources with `#[kunit_tests(NAME)]`.
pub fn declared_suites(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        if t.starts_with("//") {
            continue;
        }
        if let Some(rest) = t.strip_prefix("#[kunit_tests(") {
            if let Some(name) = rest.split(')').next() {
                out.push(name.trim().to_string());
            }
        }
    }
    out
}

fn kmemleak_report(lines: &[&str]) -> Option<Vec<String>> {
    let begin = lines.iter().position(|l| l.contains(MARK_LEAKS_BEGIN))?;
    let end = lines[begin..]
        .iter()
        .position(|l| l.contains(MARK_LEAKS_END))?
        + begin;
    Some(
        lines[begin + 1..end]
            .iter()
            .map(|l| l.to_string())
            .collect(),
    )
}

/// Judges a run: `log` is the serial log, `expected` the suites that must
/// be present, `module` the module whose suites count.
pub fn judge(log: &str, exit: Exit, expected: &[String], module: &str) -> Verdict {
    let lines: Vec<&str> = log.lines().map(ktap::strip_timestamp).collect();
    let mut problems = Vec::new();

    if exit == Exit::TimedOut {
        problems.push(Problem::Hang);
    }
    for l in &lines {
        if KERNEL_ERRORS.iter().any(|e| l.contains(e)) {
            problems.push(Problem::KernelError(l.trim().to_string()));
            break;
        }
    }
    let done = lines.iter().any(|l| l.trim() == MARK_DONE);
    if !done && exit != Exit::TimedOut {
        problems.push(Problem::Unfinished);
    }
    for l in &lines {
        let l = l.trim();
        if l.starts_with(MARK_PREFIX) && l.contains("FAILED") {
            problems.push(Problem::StepFailed(l.to_string()));
        }
    }
    let insmod_ok = lines.iter().any(|l| l.trim() == MARK_INSMOD_OK);
    if !insmod_ok && done {
        problems.push(Problem::InsmodFailed);
    }

    // The module's suites are the ones KUnit runs while insmod loads it;
    // the boot's own suites come before. Older kernels also name the
    // module in a `# module:` line.
    let after_insmod = log
        .split_inclusive('\n')
        .scan(0, |pos, l| {
            let at = *pos;
            *pos += l.len();
            Some((at, l))
        })
        .find(|(_, l)| ktap::strip_timestamp(l).trim() == MARK_INSMOD)
        .map_or(log.len(), |(at, _)| at);
    let parsed: Vec<Suite> = ktap::parse(&log[..after_insmod])
        .into_iter()
        .filter(|s| s.module.as_deref() == Some(module) || expected.contains(&s.name))
        .chain(ktap::parse(&log[after_insmod..]))
        .collect();

    let mut suites: Vec<SuiteSummary> = Vec::new();
    for s in &parsed {
        let count = |f: fn(&Status) -> bool| s.cases.iter().filter(|c| f(&c.status)).count();
        // A suite can run again later (a VM step may re-run it through
        // KUnit's debugfs): each run is judged, and named apart.
        let runs = parsed
            .iter()
            .take_while(|p| !std::ptr::eq(*p, s))
            .filter(|p| p.name == s.name)
            .count();
        let summary = SuiteSummary {
            name: match runs {
                0 => s.name.clone(),
                n => format!("{} (run {})", s.name, n + 1),
            },
            passed: count(|st| *st == Status::Pass),
            failed: count(|st| *st == Status::Fail),
            skipped: count(|st| matches!(st, Status::Skip(_))),
            planned: s.plan,
            finished: s.finished(),
        };
        for c in &s.cases {
            match &c.status {
                Status::Pass => {}
                Status::Fail => problems.push(Problem::CaseFailed {
                    suite: s.name.clone(),
                    case: c.name.clone(),
                }),
                Status::Skip(reason) => problems.push(Problem::CaseSkipped {
                    suite: s.name.clone(),
                    case: c.name.clone(),
                    reason: reason.clone(),
                }),
            }
        }
        if !s.finished() {
            problems.push(Problem::SuiteUnfinished {
                suite: s.name.clone(),
                last_case: s.cases.last().map(|c| c.name.clone()),
            });
        } else if s.plan == Some(0) || (s.plan.is_none() && s.cases.is_empty()) {
            problems.push(Problem::EmptySuite(s.name.clone()));
        } else if s.plan != Some(s.cases.len() as u32) {
            problems.push(Problem::PlanMismatch {
                suite: s.name.clone(),
                planned: s.plan,
                ran: s.cases.len(),
            });
        } else if s.status == Some(Status::Fail) && summary.failed == 0 {
            problems.push(Problem::SuiteFailed(s.name.clone()));
        }
        suites.push(summary);
    }
    for e in expected {
        if !parsed.iter().any(|s| &s.name == e) {
            problems.push(Problem::MissingSuite(e.clone()));
            suites.push(SuiteSummary {
                name: e.clone(),
                passed: 0,
                failed: 0,
                skipped: 0,
                planned: None,
                finished: false,
            });
        }
    }

    if done {
        if !lines.iter().any(|l| l.trim() == MARK_RMMOD_OK) {
            problems.push(Problem::RmmodFailed);
        }
        match kmemleak_report(&lines) {
            None => problems.push(Problem::NoLeakReport),
            Some(report) => {
                if let Some(first) = report.iter().find(|l| l.contains("unreferenced object")) {
                    problems.push(Problem::Leak(first.trim().to_string()));
                }
            }
        }
    }
    if let Some(l) = lines.iter().find(|l| l.contains("suspected memory leaks")) {
        if !problems.iter().any(|p| matches!(p, Problem::Leak(_))) {
            problems.push(Problem::Leak(l.trim().to_string()));
        }
    }

    problems.sort_by_key(Problem::rank);
    Verdict {
        suites,
        parsed,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_declared_suites() {
        let src = "#[kunit_tests(kalloc_gfp)]\nmod tests {}\n// #[kunit_tests(old)]\n  #[kunit_tests(b)]\n";
        assert_eq!(declared_suites(src), vec!["kalloc_gfp", "b"]);
    }
}
