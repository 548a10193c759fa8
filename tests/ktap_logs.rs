//! The KTAP parser and the verdict on serial logs recorded from real runs
//! of the test VM (tests/fixtures/), and on variants of them.

use kalloc_harness::ktap::{self, Status};
use kalloc_harness::verdict::{judge, Exit, Problem, Verdict};

const PASS: &str = include_str!("fixtures/pass.log");
const FAILING_AND_SKIPPED: &str = include_str!("fixtures/failing_and_skipped.log");
const CRASH: &str = include_str!("fixtures/crash_mid_suite.log");
const HANG: &str = include_str!("fixtures/hang.log");
const LEAK: &str = include_str!("fixtures/leak.log");

fn suites(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn base() -> Vec<String> {
    suites(&["kalloc_gfp", "kalloc_module"])
}

fn with_demo() -> Vec<String> {
    suites(&["kalloc_gfp", "kalloc_module", "kalloc_demo"])
}

fn first_kind(v: &Verdict) -> &'static str {
    v.problems.first().map(Problem::kind).unwrap_or("none")
}

#[test]
fn all_pass() {
    let v = judge(PASS, Exit::Exited, &base(), "kalloc");
    assert!(v.passed(), "{:?}", v.problems);
    assert_eq!(v.suites.len(), 2);
    assert_eq!(v.suites[0].name, "kalloc_gfp");
    assert_eq!(v.suites[0].passed, 10);
    assert_eq!(v.suites[1].passed, 2);
    assert!(v
        .headline("serial.log")
        .starts_with("kalloc: PASS: 2 suites, 12 cases ok"));
}

#[test]
fn boot_suites_and_empty_boot_block_are_not_kallocs() {
    // The recorded boot prints its own `KTAP version 1` / `1..N` header and
    // the kernel's built-in Rust suites; only kalloc's suites count.
    let all = ktap::parse(PASS);
    assert!(all.iter().any(|s| s.name == "rust_kernel_fmt"));
    let v = judge(PASS, Exit::Exited, &base(), "kalloc");
    assert!(v.suites.iter().all(|s| s.name.starts_with("kalloc_")));
    let gfp = &v.parsed[0];
    assert_eq!(gfp.plan, Some(10));
    assert_eq!(gfp.cases[0].name, "constants_match_c_macros");
}

#[test]
fn one_failing_case() {
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &with_demo(), "kalloc");
    assert!(!v.passed());
    assert_eq!(first_kind(&v), "failing case");
    assert!(v.problems.contains(&Problem::CaseFailed {
        suite: "kalloc_demo".into(),
        case: "fails_on_purpose".into()
    }));
    // The assertion message is attached to the failing case.
    let demo = v.parsed.iter().find(|s| s.name == "kalloc_demo").unwrap();
    let failed = demo
        .cases
        .iter()
        .find(|c| c.status == Status::Fail)
        .unwrap();
    assert!(failed
        .diagnostics
        .iter()
        .any(|d| d.contains("ASSERTION FAILED at src/zz_demo.rs")));
    // The other suites still passed.
    assert!(v.suites.iter().filter(|s| s.ok()).count() == 2);
}

#[test]
fn a_skipped_case_fails_the_run() {
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &with_demo(), "kalloc");
    assert!(v.problems.iter().any(|p| matches!(p,
        Problem::CaseSkipped { suite, case, .. } if suite == "kalloc_demo" && case == "skipped_by_cfg")));
    let demo = v.suites.iter().find(|s| s.name == "kalloc_demo").unwrap();
    assert_eq!((demo.passed, demo.failed, demo.skipped), (2, 1, 1));
}

#[test]
fn crash_mid_suite() {
    let v = judge(CRASH, Exit::Exited, &with_demo(), "kalloc");
    assert_eq!(first_kind(&v), "kernel crash");
    assert!(matches!(&v.problems[0], Problem::KernelError(l) if l.starts_with("Oops")));
    assert!(v.problems.contains(&Problem::Unfinished));
    assert!(v.problems.contains(&Problem::SuiteUnfinished {
        suite: "kalloc_demo".into(),
        last_case: Some("passes".into())
    }));
    // No rmmod or kmemleak complaints: the VM never got there, and the
    // crash is what the summary must name.
    assert!(!v.problems.contains(&Problem::RmmodFailed));
}

#[test]
fn hang_is_named_as_such() {
    let v = judge(HANG, Exit::TimedOut, &with_demo(), "kalloc");
    assert_eq!(first_kind(&v), "hang (timeout)");
    assert!(!v.problems.contains(&Problem::Unfinished));
    assert!(v.headline("x.log").contains("FAIL (hang (timeout))"));
}

#[test]
fn truncated_log() {
    // The same passing run, cut short in the middle of the first suite.
    let cut = PASS
        .find("ok 5 invalid_zone_combinations_are_einval")
        .unwrap();
    let truncated = &PASS[..cut];
    let v = judge(truncated, Exit::Exited, &base(), "kalloc");
    assert!(!v.passed());
    assert!(v.problems.contains(&Problem::Unfinished));
    assert!(v.problems.contains(&Problem::SuiteUnfinished {
        suite: "kalloc_gfp".into(),
        last_case: Some("zone_matches_c_gfp_zone".into())
    }));
    assert!(v
        .problems
        .contains(&Problem::MissingSuite("kalloc_module".into())));
}

#[test]
fn kmemleak_report_fails_the_run() {
    let v = judge(LEAK, Exit::Exited, &with_demo(), "kalloc");
    assert_eq!(first_kind(&v), "memory leak");
    assert!(matches!(&v.problems[0],
        Problem::Leak(l) if l.starts_with("unreferenced object") && l.contains("(size 128)")));
}

#[test]
fn missing_suite() {
    let v = judge(PASS, Exit::Exited, &with_demo(), "kalloc");
    assert_eq!(
        v.problems,
        vec![Problem::MissingSuite("kalloc_demo".into())]
    );
    assert!(v
        .headline("target/vm/serial.log")
        .ends_with("(log: target/vm/serial.log)"));
}

#[test]
fn suite_with_no_cases() {
    let start = PASS.find("    # Subtest: kalloc_module").unwrap();
    let end = PASS[start..].find("ok 2 kalloc_module").unwrap() + start;
    let empty = format!(
        "{}    # Subtest: kalloc_module\n    # module: kalloc\n    1..0\n{}",
        &PASS[..start],
        &PASS[end..]
    );
    let v = judge(&empty, Exit::Exited, &base(), "kalloc");
    assert_eq!(
        v.problems,
        vec![Problem::EmptySuite("kalloc_module".into())]
    );
}

#[test]
fn fewer_cases_than_planned() {
    let log = PASS.replace("    1..2\r\n", "    1..3\r\n");
    assert_ne!(log, PASS);
    let v = judge(&log, Exit::Exited, &base(), "kalloc");
    assert!(v.problems.contains(&Problem::PlanMismatch {
        suite: "kalloc_module".into(),
        planned: Some(3),
        ran: 2
    }));
}

#[test]
fn rmmod_failure() {
    let log = PASS.replace("kalloc-vm: rmmod ok", "kalloc-vm: rmmod failed (1)");
    let v = judge(&log, Exit::Exited, &base(), "kalloc");
    assert_eq!(v.problems, vec![Problem::RmmodFailed]);
}

#[test]
fn insmod_failure() {
    let log = PASS.replace("kalloc-vm: insmod ok", "kalloc-vm: insmod failed (1)");
    let v = judge(&log, Exit::Exited, &base(), "kalloc");
    assert_eq!(first_kind(&v), "insmod failed");
}

#[test]
fn kernel_warning_anywhere_fails() {
    let log = PASS.replace(
        "kalloc-vm: insmod ok",
        "[   12.0] WARNING: CPU: 1 PID: 60 at mm/page_alloc.c:4900 __alloc_pages+0x1\nkalloc-vm: insmod ok",
    );
    let v = judge(&log, Exit::Exited, &base(), "kalloc");
    assert_eq!(first_kind(&v), "kernel crash");
    assert!(matches!(&v.problems[0], Problem::KernelError(l) if l.starts_with("WARNING: CPU")));
}

#[test]
fn missing_kmemleak_report_fails() {
    let log = PASS.replace("kalloc-vm: kmemleak report end", "");
    let v = judge(&log, Exit::Exited, &base(), "kalloc");
    assert_eq!(v.problems, vec![Problem::NoLeakReport]);
}

#[test]
fn ktap_for_kunit_py_is_standalone_and_renumbered() {
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &with_demo(), "kalloc");
    let doc = ktap::to_ktap(&v.parsed);
    assert!(doc.starts_with("KTAP version 1\n1..3\n"));
    assert!(doc.contains("\nok 1 kalloc_gfp\n"));
    assert!(doc.contains("\nnot ok 3 kalloc_demo\n"));
    assert!(doc.contains("    ok 3 skipped_by_cfg # SKIP"));
    // Re-parsing the document gives the same suites and results.
    let again = ktap::parse(&doc);
    assert_eq!(again.len(), 3);
    for (a, b) in again.iter().zip(&v.parsed) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.status, b.status);
        let statuses =
            |s: &ktap::Suite| s.cases.iter().map(|c| c.status.clone()).collect::<Vec<_>>();
        assert_eq!(statuses(a), statuses(b));
    }
}

#[test]
fn suites_run_at_insmod_count_even_if_not_declared() {
    // kalloc_demo is not in the expected list, but it ran while kalloc was
    // being loaded: its failure still fails the run.
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &base(), "kalloc");
    assert_eq!(first_kind(&v), "failing case");
    assert!(v.suites.iter().any(|s| s.name == "kalloc_demo"));
}

#[test]
fn a_failed_vm_step_fails_the_run() {
    let log = PASS.replace(
        "kalloc-vm: insmod ok",
        "kalloc-vm: insmod ok\r\nkalloc-vm: step edu-rebind\r\nkalloc-vm: edu-rebind: FAILED to unbind 0000:00:04.0",
    );
    let v = judge(&log, Exit::Exited, &base(), "kalloc");
    assert_eq!(first_kind(&v), "failed step");
    assert_eq!(
        v.problems,
        vec![Problem::StepFailed(
            "kalloc-vm: edu-rebind: FAILED to unbind 0000:00:04.0".into()
        )]
    );
}
