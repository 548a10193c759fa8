//! The KTAP parser and the verdict on serial logs recorded from real runs
//! of the test VM (tests/fixtures/), and on variants of them.

use kalloc_harness::ktap::{self, Status};
use kalloc_harness::verdict::{self, Exit, Expect, Problem, Verdict};

/// A full passing run of today's module: nine suites, `kalloc_devm` run
/// again by the edu-rebind step, the sample driver's step, kmemleak's scan
/// and the taint at the end.
const NOW: &str = include_str!("fixtures/pass_rerun.log");
/// The token of the run recorded in [`NOW`].
const NOW_TOKEN: &str = "19f1a5b1c0de-4242";
/// Older recordings (two suites, before `/init` printed a token, its step
/// results, the kmemleak scan and the taint): they still show how a pass,
/// a failure, a crash, a hang and a leak look in KTAP.
const PASS: &str = include_str!("fixtures/pass.log");
const FAILING_AND_SKIPPED: &str = include_str!("fixtures/failing_and_skipped.log");
const CRASH: &str = include_str!("fixtures/crash_mid_suite.log");
const HANG: &str = include_str!("fixtures/hang.log");
const LEAK: &str = include_str!("fixtures/leak.log");

fn suites(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The token the older recordings are given by [`stamp`].
const OLD_TOKEN: &str = "old";

fn expect(names: &[&str], token: &str, steps: &[&str]) -> Expect {
    Expect {
        module: "kalloc".into(),
        suites: suites(names),
        token: token.into(),
        steps: suites(steps),
        kernel_options: None,
    }
}

fn base() -> Expect {
    expect(&["kalloc_gfp", "kalloc_module"], OLD_TOKEN, &[])
}

fn with_demo() -> Expect {
    expect(
        &["kalloc_gfp", "kalloc_module", "kalloc_demo"],
        OLD_TOKEN,
        &[],
    )
}

/// What today's module registers, as in [`NOW`].
fn now() -> Expect {
    expect(
        &[
            "kalloc_doctests",
            "kalloc_gfp",
            "kalloc_devm",
            "kalloc_slab",
            "kalloc_iomem",
            "kalloc_pages",
            "kalloc_kmalloc",
            "kalloc_vmalloc",
            "kalloc_module",
        ],
        NOW_TOKEN,
        &["edu-rebind", "sample"],
    )
}

/// An older recording as today's `/init` would have printed it: with the
/// run's token before insmod (the checks that came later are judged on
/// [`NOW`]).
fn stamp(log: &str) -> String {
    log.replacen(
        "kalloc-vm: insmod\r\n",
        &format!("kalloc-vm: token {OLD_TOKEN}\r\nkalloc-vm: insmod\r\n"),
        1,
    )
}

fn judge(log: &str, exit: Exit, expect: &Expect) -> Verdict {
    let stamped = stamp(log);
    verdict::judge(&stamped, exit, expect)
}

fn first_kind(v: &Verdict) -> &'static str {
    v.problems.first().map(Problem::kind).unwrap_or("none")
}

#[test]
fn all_pass() {
    let v = verdict::judge(NOW, Exit::Exited, &now());
    assert!(v.passed(), "{:?}", v.problems);
    assert_eq!(v.suites.len(), 10);
    assert_eq!(v.suites[0].name, "kalloc_doctests");
    assert_eq!(v.suites[9].name, "kalloc_devm (run 2)");
    assert_eq!(v.suites[9].passed, 12);
    assert!(v
        .headline("serial.log")
        .starts_with("kalloc: PASS: 9 suites (+1 run again), 124 cases ok"));
}

#[test]
fn old_recording_passes_its_ktap_checks() {
    // Everything about the suites passes; what fails is only what older
    // `/init`s did not print yet.
    let v = judge(PASS, Exit::Exited, &base());
    assert_eq!(v.suites.iter().filter(|s| s.ok()).count(), 2);
    assert!(v.problems.iter().all(|p| matches!(
        p,
        Problem::KmemleakOff(_) | Problem::NoLeakReport | Problem::Tainted(None)
    )));
}

#[test]
fn boot_suites_and_empty_boot_block_are_not_kallocs() {
    // The recorded boot prints its own `KTAP version 1` / `1..N` header and
    // the kernel's built-in Rust suites; only kalloc's suites count.
    let all = ktap::parse(PASS);
    assert!(all.iter().any(|s| s.name == "rust_kernel_fmt"));
    let v = judge(PASS, Exit::Exited, &base());
    assert!(v.suites.iter().all(|s| s.name.starts_with("kalloc_")));
    let gfp = &v.parsed[0];
    assert_eq!(gfp.plan, Some(10));
    assert_eq!(gfp.cases[0].name, "constants_match_c_macros");
}

#[test]
fn one_failing_case() {
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &with_demo());
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
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &with_demo());
    assert!(v.problems.iter().any(|p| matches!(p,
        Problem::CaseSkipped { suite, case, .. } if suite == "kalloc_demo" && case == "skipped_by_cfg")));
    let demo = v.suites.iter().find(|s| s.name == "kalloc_demo").unwrap();
    assert_eq!((demo.passed, demo.failed, demo.skipped), (2, 1, 1));
}

#[test]
fn crash_mid_suite() {
    let v = judge(CRASH, Exit::Exited, &with_demo());
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
    let v = judge(HANG, Exit::TimedOut, &with_demo());
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
    let v = judge(truncated, Exit::Exited, &base());
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
    let v = judge(LEAK, Exit::Exited, &with_demo());
    assert_eq!(first_kind(&v), "memory leak");
    assert!(matches!(&v.problems[0],
        Problem::Leak(l) if l.starts_with("unreferenced object") && l.contains("(size 128)")));
}

#[test]
fn missing_suite() {
    let mut e = now();
    e.suites.push("kalloc_demo".into());
    let v = verdict::judge(NOW, Exit::Exited, &e);
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
    let start = NOW.find("    # Subtest: kalloc_module").unwrap();
    let end = NOW[start..].find("ok 9 kalloc_module").unwrap() + start;
    let empty = format!(
        "{}    # Subtest: kalloc_module\n    1..0\n{}",
        &NOW[..start],
        &NOW[end..]
    );
    let v = verdict::judge(&empty, Exit::Exited, &now());
    assert_eq!(
        v.problems,
        vec![Problem::EmptySuite("kalloc_module".into())]
    );
}

#[test]
fn fewer_cases_than_planned() {
    let log = PASS.replace("    1..2\r\n", "    1..3\r\n");
    assert_ne!(log, PASS);
    let v = judge(&log, Exit::Exited, &base());
    assert!(v.problems.contains(&Problem::PlanMismatch {
        suite: "kalloc_module".into(),
        planned: Some(3),
        ran: 2
    }));
}

#[test]
fn rmmod_failure() {
    let log = NOW.replace("kalloc-vm: rmmod ok", "kalloc-vm: rmmod FAILED (1)");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(
        v.problems,
        vec![
            Problem::StepFailed("kalloc-vm: rmmod FAILED (1)".into()),
            Problem::RmmodFailed
        ]
    );
}

#[test]
fn insmod_failure() {
    let log = PASS.replace("kalloc-vm: insmod ok", "kalloc-vm: insmod FAILED (1)");
    let v = judge(&log, Exit::Exited, &base());
    assert_eq!(first_kind(&v), "insmod failed");
}

#[test]
fn kernel_warning_anywhere_fails() {
    let log = PASS.replace(
        "kalloc-vm: insmod ok",
        "[   12.0] WARNING: CPU: 1 PID: 60 at mm/page_alloc.c:4900 __alloc_pages+0x1\nkalloc-vm: insmod ok",
    );
    let v = judge(&log, Exit::Exited, &base());
    assert_eq!(first_kind(&v), "kernel crash");
    assert!(matches!(&v.problems[0], Problem::KernelError(l) if l.starts_with("WARNING: CPU")));
}

#[test]
fn missing_kmemleak_report_fails() {
    let log = NOW.replace("kalloc-vm: kmemleak 0 unreferenced objects", "");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(v.problems, vec![Problem::NoLeakReport]);
}

#[test]
fn ktap_for_kunit_py_is_standalone_and_renumbered() {
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &with_demo());
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
    let v = judge(FAILING_AND_SKIPPED, Exit::Exited, &base());
    assert_eq!(first_kind(&v), "failing case");
    assert!(v.suites.iter().any(|s| s.name == "kalloc_demo"));
}

#[test]
fn a_failed_vm_step_fails_the_run() {
    let log = NOW.replace(
        "kalloc-vm: edu-rebind: unbound 0000:00:04.0",
        "kalloc-vm: edu-rebind: FAILED to unbind 0000:00:04.0",
    );
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(first_kind(&v), "failed step");
    assert_eq!(
        v.problems,
        vec![Problem::StepFailed(
            "kalloc-vm: edu-rebind: FAILED to unbind 0000:00:04.0".into()
        )]
    );
}

// The false passes of a weaker gate: each log below passed once.

#[test]
fn kmemleak_off_fails_the_run() {
    // The scan fails when kmemleak is off: an empty report proves nothing.
    let log = NOW
        .replace(
            "kalloc-vm: kmemleak scan ok",
            "kalloc-vm: kmemleak scan FAILED",
        )
        .replace("kalloc-vm: kmemleak 0 unreferenced objects\r\n", "");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert!(v.problems.contains(&Problem::KmemleakOff(
        "kalloc-vm: kmemleak scan FAILED".into()
    )));
    // kmemleak turned itself off at run time, yet a scan "worked".
    let log = NOW.replace(
        "kalloc-vm: rmmod ok",
        "kmemleak: Kernel memory leak detector disabled\r\n[   40.1] kalloc-vm: rmmod ok",
    );
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(first_kind(&v), "leak detector off");
    // No debugfs file at all.
    let log = NOW.replace(
        "kalloc-vm: kmemleak scan ok",
        "kalloc-vm: kmemleak unavailable",
    );
    assert_eq!(
        first_kind(&verdict::judge(&log, Exit::Exited, &now())),
        "leak detector off"
    );
}

#[test]
fn another_runs_log_fails_the_run() {
    let mut e = now();
    e.token = "this-run".into();
    let v = verdict::judge(NOW, Exit::Exited, &e);
    assert_eq!(
        v.problems[0],
        Problem::StaleLog {
            found: Some(NOW_TOKEN.into())
        }
    );
    // An /init that printed no token at all.
    let log = NOW.replace(&format!("kalloc-vm: token {NOW_TOKEN}"), "");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(v.problems[0], Problem::StaleLog { found: None });
    assert!(v.headline("x").contains("FAIL (stale log)"));
}

#[test]
fn an_empty_log_is_a_vm_that_did_not_boot() {
    let v = verdict::judge("", Exit::Exited, &now());
    assert_eq!(v.problems[0], Problem::NoBoot);
    assert_eq!(first_kind(&v), "the VM did not boot");
}

#[test]
fn a_step_that_stops_early_fails_the_run() {
    // The step never said ok (a syntax error, an early exit).
    let log = NOW.replace("kalloc-vm: step sample ok", "");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(v.problems, vec![Problem::StepMissing("sample".into())]);
    // A step that exited non-zero.
    let log = NOW.replace(
        "kalloc-vm: step sample ok",
        "kalloc-vm: step sample FAILED (2)",
    );
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(first_kind(&v), "failed step");
}

#[test]
fn a_promised_rerun_that_did_not_happen_fails_the_run() {
    // Cut the second run of kalloc_devm out of the log.
    let promise = NOW.find("kalloc-vm: rerun kalloc_devm").unwrap();
    let start = NOW[promise..].find("KTAP version 1").unwrap() + promise;
    let end = NOW[start..].find("kalloc-vm: step edu-rebind ok").unwrap() + start;
    let log = format!("{}{}", &NOW[..start], &NOW[end..]);
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(
        v.problems,
        vec![Problem::RerunMissing("kalloc_devm".into())]
    );
}

#[test]
fn results_the_parser_cannot_place_fail_the_run() {
    // The rerun's `# Subtest:` line merged with a kernel record: its suite
    // cannot be placed, and a failure in it must not vanish.
    let promise = NOW.find("kalloc-vm: rerun kalloc_devm").unwrap();
    let subtest = NOW[promise..].find("    # Subtest: kalloc_devm").unwrap() + promise;
    let mut log = NOW.to_string();
    log.replace_range(subtest..subtest + 4, "ACPI: ...");
    let first_case = log[subtest..].find("    ok 1 ").unwrap() + subtest;
    log.replace_range(first_case..first_case + 8, "    not ok 1 ");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert!(v
        .problems
        .contains(&Problem::RerunMissing("kalloc_devm".into())));
    assert!(v
        .problems
        .iter()
        .any(|p| matches!(p, Problem::Unplaced(l) if l.starts_with("not ok 1 "))));
    assert!(v
        .problems
        .iter()
        .any(|p| matches!(p, Problem::Unplaced(l) if l.ends_with(" kalloc_devm"))));
}

#[test]
fn a_tainted_kernel_fails_the_run() {
    // The recorded run: tainted by an out-of-tree module (O) and by KUnit
    // (N), which is how every run is.
    assert!(NOW.contains("kalloc-vm: tainted 266240"));
    // W (a warning was printed, 1 << 9), even if the warning's text was lost.
    let log = NOW.replace("kalloc-vm: tainted 266240", "kalloc-vm: tainted 266752");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(v.problems, vec![Problem::Tainted(Some(266752))]);
    assert!(v.headline("x").contains("0x200"));
    let log = NOW.replace("kalloc-vm: tainted 266240", "");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(v.problems, vec![Problem::Tainted(None)]);
}

#[test]
fn dropped_kernel_messages_fail_the_run() {
    let log = NOW.replace(
        "kalloc-vm: rmmod ok",
        "** 3 printk messages dropped **\r\n[   40.1] kalloc-vm: rmmod ok",
    );
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(first_kind(&v), "lost kernel messages");
}

#[test]
fn a_module_with_no_suites_fails_the_run() {
    let mut e = now();
    e.suites.clear();
    let v = verdict::judge(NOW, Exit::Exited, &e);
    assert_eq!(v.problems[0], Problem::NothingExpected);
}

#[test]
fn a_bare_call_trace_names_the_line_before_it() {
    let log = NOW.replace(
        "kalloc-vm: rmmod ok",
        "FAULT_INJECTION: forcing a failure.\r\n[   40.1] Call Trace:\r\n[   40.2] kalloc-vm: rmmod ok",
    );
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(
        v.problems[0],
        Problem::KernelError("Call Trace: (after: FAULT_INJECTION: forcing a failure.)".into())
    );
}

#[test]
fn the_module_part_starts_at_insmod() {
    let part = verdict::module_part(NOW);
    assert!(part
        .trim_start_matches(|c| c != 'k')
        .starts_with("kalloc-vm: insmod"));
    assert!(!part.contains("rust_kernel_fmt"));
    assert!(part.contains("# Subtest: kalloc_doctests"));
}

#[test]
fn suites_are_read_from_the_module_itself() {
    // tests/fixtures/kunit_suites.c, compiled: two suites in
    // .kunit_test_suites, as relocations against .data.
    let elf = include_bytes!("fixtures/kunit_suites.o");
    assert_eq!(
        kalloc_harness::elf::kunit_suites(elf).unwrap(),
        vec!["alpha_suite", "beta_suite"]
    );
}

#[test]
fn a_case_out_of_its_place_is_reported() {
    // kalloc_gfp's second case, renumbered: a lost or repeated case line.
    let start = NOW.find("# Subtest: kalloc_gfp").unwrap();
    let at = NOW[start..].find("    ok 2 ").unwrap() + start;
    let mut log = NOW.to_string();
    log.replace_range(at..at + 9, "    ok 7 ");
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert!(
        matches!(&v.problems[..], [Problem::WrongNumber { suite, expected: 2, found: 7, .. }] if suite == "kalloc_gfp")
    );
    assert_eq!(first_kind(&v), "wrong case number");
}

/// A run recorded from today's module in which a case failed only when the
/// edu-rebind step ran `kalloc_devm` again.
const FAIL_IN_RERUN: &str = include_str!("fixtures/fail_in_rerun.log");

#[test]
fn a_failure_inside_a_rerun_fails_the_run() {
    let mut e = now();
    e.token = "2a2a2a2a2a2a-4242".into();
    e.suites.push("kalloc_kvmalloc".into());
    let v = verdict::judge(FAIL_IN_RERUN, Exit::Exited, &e);
    assert_eq!(
        v.problems,
        vec![Problem::CaseFailed {
            suite: "kalloc_devm".into(),
            case: "devm_pages_refuse_what_lowmem_pages_refuse".into()
        }]
    );
    let first = v.suites.iter().find(|s| s.name == "kalloc_devm").unwrap();
    let again = v
        .suites
        .iter()
        .find(|s| s.name == "kalloc_devm (run 2)")
        .unwrap();
    assert!(first.ok() && !again.ok() && again.failed == 1);
    assert!(v
        .headline("x")
        .contains("FAIL (failing case): kalloc_devm.devm_pages_refuse"));
}

/// [`now`] on a kernel whose `.config` sets `options` (and nothing else).
fn now_on(options: &[&str]) -> Expect {
    Expect {
        kernel_options: Some(options.iter().map(|o| o.to_string()).collect()),
        ..now()
    }
}

/// [`NOW`] with `kalloc_gfp`'s fifth case skipped for `reason`.
fn with_skip(reason: &str) -> String {
    NOW.replacen(
        "ok 5 invalid_zone_combinations_are_einval",
        &format!("ok 5 invalid_zone_combinations_are_einval # SKIP {reason}"),
        1,
    )
}

#[test]
fn a_skip_for_an_option_the_kernel_lacks_is_accepted_and_listed() {
    let log = with_skip("needs CONFIG_DEBUG_PAGEALLOC");
    let v = verdict::judge(&log, Exit::Exited, &now_on(&["CONFIG_KASAN"]));
    assert!(v.passed(), "{:?}", v.problems);
    assert_eq!(
        v.skipped,
        [(
            "kalloc_gfp.invalid_zone_combinations_are_einval".to_string(),
            "CONFIG_DEBUG_PAGEALLOC".to_string()
        )]
    );
    let gfp = v.suites.iter().find(|s| s.name == "kalloc_gfp").unwrap();
    assert!(gfp.ok() && gfp.skipped == 1);
}

#[test]
fn a_skip_is_refused_where_the_kernel_has_the_option_or_is_unknown() {
    let log = with_skip("needs CONFIG_DEBUG_PAGEALLOC");
    // The debug kernel has it: the case should have run.
    let v = verdict::judge(&log, Exit::Exited, &now_on(&["CONFIG_DEBUG_PAGEALLOC"]));
    assert_eq!(first_kind(&v), "skipped case");
    let gfp = v.suites.iter().find(|s| s.name == "kalloc_gfp").unwrap();
    assert!(!gfp.ok());
    // The kernel's options are not known.
    let v = verdict::judge(&log, Exit::Exited, &now());
    assert_eq!(first_kind(&v), "skipped case");
    // A skip that names no option, or something else.
    for reason in [
        "no highmem",
        "needs a NUMA machine",
        "needs DEBUG_PAGEALLOC",
    ] {
        let v = verdict::judge(&with_skip(reason), Exit::Exited, &now_on(&[]));
        assert_eq!(first_kind(&v), "skipped case", "{reason}");
    }
}

#[test]
fn kmemleak_may_be_unavailable_only_on_a_kernel_without_it() {
    // As `/init` prints it without kmemleak: one line, no count.
    let log: String = NOW
        .replace(
            "kalloc-vm: kmemleak scan ok",
            "kalloc-vm: kmemleak unavailable",
        )
        .split_inclusive('\n')
        .filter(|l| !l.contains("kalloc-vm: kmemleak 0 unreferenced objects"))
        .collect();
    let v = verdict::judge(&log, Exit::Exited, &now_on(&["CONFIG_KASAN"]));
    assert!(v.passed(), "{:?}", v.problems);
    for expect in [now_on(&["CONFIG_DEBUG_KMEMLEAK"]), now()] {
        let v = verdict::judge(&log, Exit::Exited, &expect);
        assert_eq!(first_kind(&v), "leak detector off");
    }
}

#[test]
fn kernel_options_are_read_from_a_config() {
    let config =
        "# comment\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C=\"x\"\n# CONFIG_D is not set\nCONFIG_E=n\n";
    let options = verdict::kernel_options(config);
    assert_eq!(
        options.into_iter().collect::<Vec<_>>(),
        ["CONFIG_A", "CONFIG_B"]
    );
}

#[test]
fn a_case_skipped_in_the_first_run_may_be_skipped_without_reason_in_a_rerun() {
    // KUnit does not run again a case it skipped: the re-run's line has an
    // empty reason.
    const CASE: &str = "ok 10 edu_unbind_releases_everything_and_rebind_restores_it";
    let first = format!("{CASE} # SKIP needs CONFIG_DEBUG_PAGEALLOC");
    let log = NOW.replacen(CASE, &first, 1).replacen(
        &format!("{CASE}\r"),
        &format!("{CASE} # SKIP \r"),
        1,
    );
    assert_eq!(log.matches("# SKIP").count(), 2);
    let v = verdict::judge(&log, Exit::Exited, &now_on(&[]));
    assert!(v.passed(), "{:?}", v.problems);
    assert_eq!(v.skipped.len(), 2);
    // Not where the first run ran it.
    let log = NOW.replace(&format!("{CASE}\r"), &format!("{CASE} # SKIP \r"));
    let log = log.replacen(&format!("{CASE} # SKIP \r"), &format!("{CASE}\r"), 1);
    assert_eq!(log.matches("# SKIP").count(), 1);
    let v = verdict::judge(&log, Exit::Exited, &now_on(&[]));
    assert_eq!(first_kind(&v), "skipped case");
}
