//! Decides whether a VM run of kalloc passed, from its serial log.
//!
//! A run passes only if all of these hold (docs/test-rig.md, "What makes a
//! run pass", says the same for people):
//! - the log is this run's: `/init` printed the run's token back;
//! - the VM finished by itself (the `/init` script's `kalloc-vm: done`
//!   marker is in the log) rather than hanging or crashing;
//! - `insmod` and `rmmod` of kalloc both succeeded, every extra step of
//!   `/init` (`scripts/vm/steps.d/`) reported `ok` and none `FAILED`, and
//!   every suite a step promised to run again (`kalloc-vm: rerun NAME`) ran
//!   again after the promise;
//! - the module registers at least one suite, and every one is present,
//!   announced at least one case, ran all the cases it announced, and every
//!   case is `ok`; no result line lies outside a suite the parser could
//!   place. A skip is a failure (a skipped case proves nothing), except a
//!   case that says it `needs CONFIG_X` on a kernel known to lack
//!   `CONFIG_X`: never on the debug kernel;
//! - the log holds no kernel error report (`BUG:`, `WARNING:`, `Oops`,
//!   `KASAN`, `UBSAN`, `Call Trace`, a panic), no lost kernel messages, and
//!   the kernel is tainted by nothing but out-of-tree, unsigned and test
//!   modules;
//! - kmemleak was on, scanned, and reported no leak (or, on a kernel known
//!   to lack `CONFIG_DEBUG_KMEMLEAK`, `/init` found it unavailable).

use crate::ktap::{self, Status, Suite};
use std::collections::BTreeSet;

/// Printed by `scripts/vm/init` and its steps: every line of theirs starts
/// with this, and a step that fails says `FAILED`.
const MARK_PREFIX: &str = "kalloc-vm: ";
const MARK_INSMOD: &str = "kalloc-vm: insmod";
const MARK_INSMOD_OK: &str = "kalloc-vm: insmod ok";
const MARK_RMMOD_OK: &str = "kalloc-vm: rmmod ok";
const MARK_TOKEN: &str = "kalloc-vm: token ";
const MARK_STEP: &str = "kalloc-vm: step ";
const MARK_RERUN: &str = "kalloc-vm: rerun ";
const MARK_SCAN_OK: &str = "kalloc-vm: kmemleak scan ok";
const MARK_KMEMLEAK_UNAVAILABLE: &str = "kalloc-vm: kmemleak unavailable";
const MARK_LEAKS: &str = "kalloc-vm: kmemleak ";
const MARK_TAINTED: &str = "kalloc-vm: tainted ";
const MARK_DONE: &str = "kalloc-vm: done";

/// Lines by which the kernel says that kmemleak is off: its report would be
/// empty whatever leaked.
const KMEMLEAK_OFF: &[&str] = &["Kernel memory leak detector disabled", "kmemleak: Disabled"];

/// The taint flags a passing run may have: `O` (an out-of-tree module is
/// loaded), `E` (an unsigned module) and `N` (KUnit tests ran).
pub const ALLOWED_TAINT: u64 = (1 << 12) | (1 << 13) | (1 << 18);

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

/// What a run must show, besides passing cases and a clean kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The module whose suites count (`# module:` lines of older kernels).
    pub module: String,
    /// The suites the module registers (see [`crate::elf::kunit_suites`]).
    pub suites: Vec<String>,
    /// The token this run put on the kernel command line.
    pub token: String,
    /// The steps of `/init` (`scripts/vm/steps.d`), each of which must say `ok`.
    pub steps: Vec<String>,
    /// The options (`CONFIG_*` set to `y` or `m`) of the kernel the VM
    /// booted, when known: a case may be skipped only for an option the
    /// kernel lacks, and kmemleak may be unavailable only without
    /// `CONFIG_DEBUG_KMEMLEAK`. `None`: neither is accepted.
    pub kernel_options: Option<BTreeSet<String>>,
}

impl Expect {
    /// Whether the booted kernel is known to lack `option` (`CONFIG_X`).
    pub fn lacks(&self, option: &str) -> bool {
        self.kernel_options
            .as_ref()
            .is_some_and(|o| !o.contains(option))
    }

    /// The option a skip reason says the case needs (`needs CONFIG_X`, then
    /// anything), if the booted kernel is known to lack it.
    pub fn accepts_skip<'a>(&self, reason: &'a str) -> Option<&'a str> {
        let option = reason.strip_prefix("needs ")?.split_whitespace().next()?;
        let option = option.trim_end_matches([',', ';', ':', '.', ')']);
        (option.starts_with("CONFIG_") && self.lacks(option)).then_some(option)
    }
}

/// The options of a kernel `.config`: every `CONFIG_X` set to `y` or `m`.
pub fn kernel_options(config: &str) -> BTreeSet<String> {
    config
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once('=')?;
            (name.starts_with("CONFIG_") && (value == "y" || value == "m")).then(|| name.into())
        })
        .collect()
}

/// One reason a run failed. The first problem in [`Verdict::problems`] is
/// the most important one (see [`Problem::rank`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The log is not this run's: `/init` printed another token, or none
    /// although it ran.
    StaleLog { found: Option<String> },
    /// The log holds nothing from `/init`: the VM did not boot.
    NoBoot,
    /// The module registers no suite: nothing would prove anything.
    NothingExpected,
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
    /// A case carries another number than its place in the suite (as
    /// `kunit.py` checks: cases are numbered 1, 2, ... in order).
    WrongNumber {
        suite: String,
        case: String,
        expected: u32,
        found: u32,
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
    /// A step of `/init` did not report `ok`.
    StepMissing(String),
    /// A step promised to run a suite again, and it is not in the log after.
    RerunMissing(String),
    /// A result line outside any suite the parser could place (a suite's
    /// header may have been garbled): the result may hide a failure.
    Unplaced(String),
    /// kmemleak reported an unreferenced object (its first line).
    Leak(String),
    /// The kmemleak report is missing from the log.
    NoLeakReport,
    /// kmemleak was off or its scan failed (the line that says so).
    KmemleakOff(String),
    /// The kernel is tainted beyond [`ALLOWED_TAINT`] (its taint mask), or
    /// `/init` did not say (`None`).
    Tainted(Option<u64>),
    /// The kernel dropped log messages (its line): what they said is lost.
    MessagesDropped(String),
}

impl Problem {
    /// Lower is more important: a hang or crash explains everything after.
    fn rank(&self) -> u8 {
        match self {
            Problem::StaleLog { .. } | Problem::NothingExpected => 0,
            Problem::Hang | Problem::NoBoot => 1,
            Problem::KernelError(_) => 2,
            Problem::Unfinished => 3,
            Problem::InsmodFailed => 4,
            Problem::SuiteUnfinished { .. } => 5,
            Problem::CaseFailed { .. } | Problem::Unplaced(_) => 6,
            Problem::CaseSkipped { .. } => 7,
            Problem::PlanMismatch { .. }
            | Problem::SuiteFailed(_)
            | Problem::WrongNumber { .. } => 8,
            Problem::MissingSuite(_) | Problem::EmptySuite(_) | Problem::RerunMissing(_) => 9,
            Problem::RmmodFailed | Problem::StepFailed(_) | Problem::StepMissing(_) => 10,
            Problem::Leak(_) => 11,
            Problem::NoLeakReport | Problem::KmemleakOff(_) => 12,
            Problem::Tainted(_) | Problem::MessagesDropped(_) => 13,
        }
    }

    /// The kind of failure, as the one-line summary names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::StaleLog { .. } => "stale log",
            Problem::NoBoot => "the VM did not boot",
            Problem::NothingExpected => "no suites",
            Problem::Hang => "hang (timeout)",
            Problem::KernelError(_) | Problem::Unfinished => "kernel crash",
            Problem::SuiteUnfinished { .. } => "unfinished suite",
            Problem::InsmodFailed => "insmod failed",
            Problem::CaseFailed { .. } | Problem::SuiteFailed(_) => "failing case",
            Problem::CaseSkipped { .. } => "skipped case",
            Problem::PlanMismatch { .. } => "wrong case count",
            Problem::WrongNumber { .. } => "wrong case number",
            Problem::MissingSuite(_) | Problem::EmptySuite(_) | Problem::RerunMissing(_) => {
                "missing suite"
            }
            Problem::RmmodFailed => "rmmod failed",
            Problem::StepFailed(_) | Problem::StepMissing(_) => "failed step",
            Problem::Unplaced(_) => "unplaced result",
            Problem::Leak(_) | Problem::NoLeakReport => "memory leak",
            Problem::KmemleakOff(_) => "leak detector off",
            Problem::Tainted(_) => "tainted kernel",
            Problem::MessagesDropped(_) => "lost kernel messages",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::StaleLog { found: Some(t) } => {
                write!(f, "the log is another run's (token {t}): it proves nothing")
            }
            Problem::StaleLog { found: None } => {
                write!(f, "/init ran but printed no token: the log proves nothing")
            }
            Problem::NoBoot => write!(f, "nothing from /init in the log"),
            Problem::NothingExpected => write!(f, "the module registers no KUnit suite"),
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
            Problem::WrongNumber {
                suite,
                case,
                expected,
                found,
            } => write!(f, "{suite}.{case} is numbered {found}, expected {expected}"),
            Problem::SuiteFailed(s) => write!(f, "suite {s} reported not ok"),
            Problem::MissingSuite(s) => write!(f, "suite {s} is missing from the log"),
            Problem::EmptySuite(s) => write!(f, "suite {s} has no cases"),
            Problem::RmmodFailed => write!(f, "rmmod kalloc failed"),
            Problem::StepFailed(l) => write!(f, "{l}"),
            Problem::StepMissing(s) => write!(f, "step {s} did not report ok"),
            Problem::RerunMissing(s) => {
                write!(
                    f,
                    "a step ran suite {s} again, but its run is not in the log"
                )
            }
            Problem::Unplaced(l) => write!(f, "a result outside any suite: {l}"),
            Problem::Leak(l) => write!(f, "kmemleak: {l}"),
            Problem::NoLeakReport => write!(f, "no kmemleak report in the log"),
            Problem::KmemleakOff(l) => write!(f, "kmemleak did not scan: {l}"),
            Problem::Tainted(Some(t)) => write!(
                f,
                "the kernel is tainted ({t:#x}; flags beyond O, E and N: {:#x})",
                t & !ALLOWED_TAINT
            ),
            Problem::Tainted(None) => write!(f, "/init did not print the kernel's taint"),
            Problem::MessagesDropped(l) => write!(f, "{l}"),
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
    /// The skips that are not accepted (see [`Expect::accepts_skip`]).
    pub skips_refused: usize,
    pub planned: Option<u32>,
    pub finished: bool,
}

impl SuiteSummary {
    /// Whether this suite, on its own, passed.
    pub fn ok(&self) -> bool {
        self.finished
            && self.failed == 0
            && self.skips_refused == 0
            && self.passed > 0
            && self.planned == Some((self.passed + self.skipped) as u32)
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
    /// Accepted skips: `suite.case` and the option the kernel lacks.
    pub skipped: Vec<(String, String)>,
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

/// The marker lines of `/init` and its steps, in order, without the
/// printk time stamp.
fn markers<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with(MARK_PREFIX))
        .collect()
}

/// The first kernel error report, with the line before it when the match is
/// a bare `Call Trace` (which says little on its own).
/// KTAP result lines are not searched: a case's name or skip reason may
/// name what a report would (`# SKIP needs CONFIG_KASAN_GENERIC`).
fn kernel_error(lines: &[&str]) -> Option<String> {
    let is_result = |l: &str| {
        let l = l.trim_start();
        l.starts_with("ok ") || l.starts_with("not ok ")
    };
    let at = lines
        .iter()
        .position(|l| !is_result(l) && KERNEL_ERRORS.iter().any(|e| l.contains(e)))?;
    let line = lines[at].trim();
    match at.checked_sub(1) {
        Some(prev) if line.starts_with("Call Trace") => {
            Some(format!("{line} (after: {})", lines[prev].trim()))
        }
        _ => Some(line.to_string()),
    }
}

/// Byte offset in `log` of the line that is exactly `marker` (after its time
/// stamp), or the end of the log.
fn offset_of_marker(log: &str, marker: &str) -> usize {
    log.split_inclusive('\n')
        .scan(0, |pos, l| {
            let at = *pos;
            *pos += l.len();
            Some((at, l))
        })
        .find(|(_, l)| ktap::strip_timestamp(l).trim() == marker)
        .map_or(log.len(), |(at, _)| at)
}

/// The part of the serial log that belongs to the module: from the insmod
/// marker on (what the kernel's `kunit.py parse` gets as a second opinion).
pub fn module_part(log: &str) -> &str {
    &log[offset_of_marker(log, MARK_INSMOD)..]
}

/// Judges a run: `log` is the serial log, `exit` how the VM ended, `expect`
/// what the run must show.
pub fn judge(log: &str, exit: Exit, expect: &Expect) -> Verdict {
    let lines: Vec<&str> = log.lines().map(ktap::strip_timestamp).collect();
    let marks = markers(&lines);
    let mut problems = Vec::new();
    let mut skipped = Vec::new();

    if expect.suites.is_empty() {
        problems.push(Problem::NothingExpected);
    }
    let token = marks.iter().find_map(|m| m.strip_prefix(MARK_TOKEN));
    match token {
        Some(t) if t.trim() == expect.token => {}
        Some(t) => problems.push(Problem::StaleLog {
            found: Some(t.trim().to_string()),
        }),
        None if !marks.is_empty() => problems.push(Problem::StaleLog { found: None }),
        None => {}
    }
    if exit == Exit::TimedOut {
        problems.push(Problem::Hang);
    } else if marks.is_empty() {
        problems.push(Problem::NoBoot);
    }
    if let Some(e) = kernel_error(&lines) {
        problems.push(Problem::KernelError(e));
    }
    let done = marks.contains(&MARK_DONE);
    if !done && exit != Exit::TimedOut && !marks.is_empty() {
        problems.push(Problem::Unfinished);
    }
    for m in &marks {
        if m.contains("FAILED") {
            problems.push(Problem::StepFailed(m.to_string()));
        }
    }
    let insmod_ok = marks.contains(&MARK_INSMOD_OK);
    if !insmod_ok && done {
        problems.push(Problem::InsmodFailed);
    }

    // The module's suites are the ones KUnit runs while insmod loads it;
    // the boot's own suites come before. Older kernels also name the
    // module in a `# module:` line.
    let after_insmod = offset_of_marker(log, MARK_INSMOD);
    let (before, _) = ktap::parse_all(&log[..after_insmod]);
    let (after, unplaced) = ktap::parse_all(&log[after_insmod..]);
    let parsed: Vec<Suite> = before
        .into_iter()
        .filter(|s| s.module.as_deref() == Some(&expect.module) || expect.suites.contains(&s.name))
        .chain(after)
        .collect();
    problems.extend(unplaced.into_iter().map(Problem::Unplaced));

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
        // KUnit does not run a case again that it skipped in an earlier run
        // of the suite: the re-run says `# SKIP` with no reason. It is
        // accepted where the first run's skip was.
        let first = parsed.iter().find(|p| p.name == s.name);
        let accepted = |case: &str, reason: &str| -> Option<String> {
            if let Some(option) = expect.accepts_skip(reason) {
                return Some(option.to_string());
            }
            let earlier = first.filter(|_| runs > 0 && reason.is_empty())?;
            match &earlier.cases.iter().find(|c| c.name == case)?.status {
                Status::Skip(r) => expect.accepts_skip(r).map(str::to_string),
                _ => None,
            }
        };
        let summary = SuiteSummary {
            name: match runs {
                0 => s.name.clone(),
                n => format!("{} (run {})", s.name, n + 1),
            },
            passed: count(|st| *st == Status::Pass),
            failed: count(|st| *st == Status::Fail),
            skipped: count(|st| matches!(st, Status::Skip(_))),
            skips_refused: s
                .cases
                .iter()
                .filter(|c| matches!(&c.status, Status::Skip(r) if accepted(&c.name, r).is_none()))
                .count(),
            planned: s.plan,
            finished: s.finished(),
        };
        for (place, c) in (1u32..).zip(&s.cases) {
            if c.number != place {
                problems.push(Problem::WrongNumber {
                    suite: s.name.clone(),
                    case: c.name.clone(),
                    expected: place,
                    found: c.number,
                });
            }
            match &c.status {
                Status::Pass => {}
                Status::Fail => problems.push(Problem::CaseFailed {
                    suite: s.name.clone(),
                    case: c.name.clone(),
                }),
                Status::Skip(reason) => match accepted(&c.name, reason) {
                    Some(option) => skipped.push((format!("{}.{}", summary.name, c.name), option)),
                    None => problems.push(Problem::CaseSkipped {
                        suite: s.name.clone(),
                        case: c.name.clone(),
                        reason: reason.clone(),
                    }),
                },
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
    for e in &expect.suites {
        if !parsed.iter().any(|s| &s.name == e) {
            problems.push(Problem::MissingSuite(e.clone()));
            suites.push(SuiteSummary {
                name: e.clone(),
                passed: 0,
                failed: 0,
                skipped: 0,
                skips_refused: 0,
                planned: None,
                finished: false,
            });
        }
    }
    // A suite a step promised to run again must appear after the promise.
    for m in &marks {
        if let Some(name) = m.strip_prefix(MARK_RERUN) {
            let promise = offset_of_marker(log, m);
            let again = ktap::parse(&log[promise..]);
            if !again.iter().any(|s| s.name == name.trim()) {
                problems.push(Problem::RerunMissing(name.trim().to_string()));
            }
        }
    }

    if done {
        if !marks.contains(&MARK_RMMOD_OK) {
            problems.push(Problem::RmmodFailed);
        }
        for step in &expect.steps {
            if !marks.contains(&format!("{MARK_STEP}{step} ok").as_str()) {
                problems.push(Problem::StepMissing(step.clone()));
            }
        }
        // A kernel without kmemleak: `/init` says so, and there is no
        // report to read.
        let no_kmemleak =
            expect.lacks("CONFIG_DEBUG_KMEMLEAK") && marks.contains(&MARK_KMEMLEAK_UNAVAILABLE);
        if !marks.contains(&MARK_SCAN_OK) && !no_kmemleak {
            problems.push(Problem::KmemleakOff(
                marks
                    .iter()
                    .find(|m| m.contains("kmemleak"))
                    .map_or("no scan reported".into(), |m| m.to_string()),
            ));
        }
        let leaks = marks
            .iter()
            .filter_map(|m| {
                m.strip_prefix(MARK_LEAKS)?
                    .strip_suffix(" unreferenced objects")
            })
            .find_map(|n| n.trim().parse::<usize>().ok());
        // The report itself follows, for people; a leak in it counts even
        // if the count line was lost.
        let reported = lines
            .iter()
            .find(|l| l.trim_start().starts_with("unreferenced object"));
        match (leaks, reported) {
            (_, Some(l)) => problems.push(Problem::Leak(l.trim().to_string())),
            (None, None) if no_kmemleak => {}
            (None, None) => problems.push(Problem::NoLeakReport),
            (Some(0), None) => {}
            (Some(n), None) => problems.push(Problem::Leak(format!("{n} unreferenced objects"))),
        }
        let taint = marks
            .iter()
            .find_map(|m| m.strip_prefix(MARK_TAINTED)?.trim().parse::<u64>().ok());
        match taint {
            Some(t) if t & !ALLOWED_TAINT == 0 => {}
            t => problems.push(Problem::Tainted(t)),
        }
    }
    if let Some(l) = lines.iter().find(|l| l.contains("suspected memory leaks")) {
        if !problems.iter().any(|p| matches!(p, Problem::Leak(_))) {
            problems.push(Problem::Leak(l.trim().to_string()));
        }
    }
    if let Some(l) = lines
        .iter()
        .find(|l| KMEMLEAK_OFF.iter().any(|k| l.contains(k)))
    {
        problems.push(Problem::KmemleakOff(l.trim().to_string()));
    }
    if let Some(l) = lines.iter().find(|l| l.contains("printk messages dropped")) {
        problems.push(Problem::MessagesDropped(l.trim().to_string()));
    }

    problems.sort_by_key(Problem::rank);
    problems.dedup();
    Verdict {
        suites,
        parsed,
        problems,
        skipped,
    }
}
