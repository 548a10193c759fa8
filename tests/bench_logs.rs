//! The benchmark log parser and what is made of its rows: CSV, tables, the
//! comparison of two runs and the plots. Fixtures are inline.

use kalloc_harness::bench::{self, Row};

/// A complete run as the serial log shows it: time stamps, other kernel
/// lines in between, and an unknown `kalloc-bench:` line that is skipped.
const GOOD: &str = "\
[    0.000000] Linux version 6.12.0 (kalloc@build) #1 SMP PREEMPT_DYNAMIC\r
kalloc-vm: insmod
[   12.300001] kalloc_bench: loading out-of-tree module taints kernel.
[   12.345678] kalloc-bench: starting, 3 families
[   12.345679] kalloc-bench: row kmalloc,alloc_free,64,c,137.2
[   12.345680] kalloc-bench: row kmalloc,alloc_free,64,kalloc,140.0
[   12.345681] random: crng init done
[   12.345682] kalloc-bench: row kmalloc,alloc_free,64,upstream,289.5
kalloc-bench: row kmalloc,alloc_free,128,kalloc,140.25
[   12.345683] kalloc-bench: row kmalloc,alloc_free,128,c,151
[   12.400000] kalloc-bench: row pages,alloc_free,3,c,795.0
[   12.400001] kalloc-bench: row pages,alloc_free,0,kalloc,400.0
[   12.500000] kalloc-bench: done 7 rows
kalloc-vm: rmmod ok
";

/// [`GOOD`] with `line` (1-based) replaced by `with`.
fn replace_line(line: usize, with: &str) -> String {
    GOOD.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == line { with } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

fn row(family: &str, operation: &str, size: u64, implementation: &str, instructions: f64) -> Row {
    Row {
        family: family.into(),
        operation: operation.into(),
        size,
        implementation: implementation.into(),
        instructions,
    }
}

#[test]
fn parses_a_good_log() {
    let rows = bench::parse(GOOD).unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0], row("kmalloc", "alloc_free", 64, "c", 137.2));
    assert_eq!(rows[3], row("kmalloc", "alloc_free", 128, "kalloc", 140.25));
    assert_eq!(rows[4].instructions, 151.0);
    assert_eq!(rows[6], row("pages", "alloc_free", 0, "kalloc", 400.0));
    assert_eq!(bench::families(&rows), ["kmalloc", "pages"]);
}

#[test]
fn a_log_without_done_is_incomplete() {
    let log = replace_line(13, "[   12.500000] Kernel panic - not syncing");
    let err = bench::parse(&log).unwrap_err();
    assert!(err.contains("did not finish"), "{err}");
    assert!(err.contains("7 rows"), "{err}");
}

#[test]
fn a_wrong_count_is_an_error() {
    let log = replace_line(13, "[   12.500000] kalloc-bench: done 8 rows");
    let err = bench::parse(&log).unwrap_err();
    assert!(err.starts_with("line 13:"), "{err}");
    assert!(err.contains("8 rows but 7"), "{err}");
    assert!(err.contains("kalloc-bench: done 8 rows"), "{err}");
}

#[test]
fn an_unknown_implementation_is_an_error() {
    let text = "kalloc-bench: row kmalloc,alloc_free,64,glibc,99.0";
    let err = bench::parse(&replace_line(6, text)).unwrap_err();
    assert!(err.starts_with("line 6:"), "{err}");
    assert!(err.contains("glibc") && err.contains(text), "{err}");
}

#[test]
fn malformed_rows_are_errors() {
    for (text, why) in [
        ("kalloc-bench: row kmalloc,alloc_free,64,c", "5 fields"),
        ("kalloc-bench: row kmalloc,alloc_free,-64,c,1.0", "bad size"),
        (
            "kalloc-bench: row kmalloc,alloc_free,64,c,-1.0",
            "bad instructions",
        ),
        (
            "kalloc-bench: row kmalloc,alloc_free,64,c,nan",
            "bad instructions",
        ),
        (
            "kalloc-bench: row kmalloc,alloc_free,64,c,1e3",
            "bad instructions",
        ),
        (
            "kalloc-bench: row km/alloc,alloc_free,64,c,1.0",
            "bad family",
        ),
        ("kalloc-bench: done many rows", "malformed"),
    ] {
        let err = bench::parse(&replace_line(5, text)).unwrap_err();
        assert!(err.starts_with("line 5:"), "{text}: {err}");
        assert!(err.contains(why), "{text}: {err}");
    }
}

#[test]
fn a_duplicate_key_is_an_error() {
    let err = bench::parse(&replace_line(
        7,
        "[   12.345681] kalloc-bench: row kmalloc,alloc_free,64,c,138.0",
    ))
    .unwrap_err();
    assert!(err.starts_with("line 7:"), "{err}");
    assert!(
        err.contains("duplicate row kmalloc,alloc_free,64,c"),
        "{err}"
    );
    assert!(err.contains("first at line 5"), "{err}");
}

#[test]
fn a_failed_line_is_an_error() {
    let text = "[   12.345681] kalloc-bench: FAILED kmalloc returned NULL";
    let err = bench::parse(&replace_line(7, text)).unwrap_err();
    assert!(err.starts_with("line 7:"), "{err}");
    assert!(
        err.contains("failed") && err.contains("kmalloc returned NULL"),
        "{err}"
    );
}

#[test]
fn a_row_after_done_is_an_error() {
    let log = format!("{GOOD}kalloc-bench: row pages,alloc_free,4,c,1.0\n");
    let err = bench::parse(&log).unwrap_err();
    assert!(err.starts_with("line 15:"), "{err}");
}

#[test]
fn csv_has_its_header_and_one_decimal() {
    let rows = bench::parse(GOOD).unwrap();
    let csv = bench::csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "family,operation,size,implementation,instructions_per_op"
    );
    assert_eq!(lines[1], "kmalloc,alloc_free,64,c,137.2");
    assert_eq!(lines[4], "kmalloc,alloc_free,128,kalloc,140.2");
    assert_eq!(lines[5], "kmalloc,alloc_free,128,c,151.0");
    assert_eq!(lines.len(), 8);
    assert!(csv.ends_with('\n'));
}

#[test]
fn equal_runs_differ_by_nothing() {
    let rows = bench::parse(GOOD).unwrap();
    let (percent, key) = bench::compare(&rows, &rows).unwrap();
    assert_eq!(percent, 0.0);
    assert_eq!(key, "kmalloc,alloc_free,64,c");
}

#[test]
fn differing_runs_name_the_largest_difference() {
    let a = bench::parse(GOOD).unwrap();
    let mut b = a.clone();
    b[1].instructions = 141.4; // 1 %
    b[5].instructions = 811.0; // about 2.01 %
    b.reverse(); // order does not matter
    let (percent, key) = bench::compare(&a, &b).unwrap();
    assert!((percent - 2.0126).abs() < 0.001, "{percent}");
    assert_eq!(key, "pages,alloc_free,3,c");
    assert_eq!(format!("{percent:.2}"), "2.01");
}

#[test]
fn runs_with_different_keys_cannot_be_compared() {
    let a = bench::parse(GOOD).unwrap();
    let err = bench::compare(&a, &a[1..]).unwrap_err();
    assert!(err.contains("kmalloc,alloc_free,64,c"), "{err}");
    assert!(err.contains("first run only"), "{err}");
    let mut b = a.clone();
    b[0].size = 32;
    let err = bench::compare(&a, &b).unwrap_err();
    assert!(err.contains("run only"), "{err}");
}

#[test]
fn the_table_shows_ratios_with_two_decimals() {
    let rows = bench::parse(GOOD).unwrap();
    let table = bench::table(&rows);
    let lines: Vec<&str> = table.lines().collect();
    let words = |n: usize| lines[n].split_whitespace().collect::<Vec<_>>();
    assert_eq!(
        words(0),
        [
            "family",
            "operation",
            "size",
            "c",
            "kalloc",
            "upstream",
            "kalloc/c",
            "kalloc/upstream",
            "goal"
        ]
    );
    assert!(lines[1].starts_with("-------"));
    // 140.0 / 137.2 = 1.0204, 140.0 / 289.5 = 0.4836.
    assert_eq!(
        words(2),
        [
            "kmalloc",
            "alloc_free",
            "64",
            "137.2",
            "140.0",
            "289.5",
            "1.02",
            "0.48",
            "ok"
        ]
    );
    // Sizes ascend within an operation; missing values show as `-`.
    assert_eq!(
        words(3),
        [
            "kmalloc",
            "alloc_free",
            "128",
            "151.0",
            "140.2",
            "-",
            "0.93",
            "-",
            "ok"
        ]
    );
    assert_eq!(
        words(4),
        ["pages", "alloc_free", "0", "-", "400.0", "-", "-", "-", "-"]
    );
    assert_eq!(
        words(5),
        ["pages", "alloc_free", "3", "795.0", "-", "-", "-", "-", "-"]
    );
    assert_eq!(lines.len(), 6);
    // Numbers are right-aligned under their headers.
    let end = |l: &str, w: &str| l.find(w).map(|at| at + w.len());
    assert_eq!(end(lines[0], "kalloc/c"), end(lines[2], "1.02"));
    assert_eq!(end(lines[0], "upstream"), end(lines[2], "289.5"));
}

#[test]
fn the_markdown_table_has_the_same_cells() {
    let rows = bench::parse(GOOD).unwrap();
    let md = bench::markdown_table(&rows);
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(
        lines[0],
        "| family | operation | size | c | kalloc | upstream | kalloc/c | kalloc/upstream | goal |"
    );
    assert!(lines[1].starts_with("|:--|"));
    assert_eq!(
        lines[2],
        "| kmalloc | alloc_free | 64 | 137.2 | 140.0 | 289.5 | 1.02 | 0.48 | ok |"
    );
    assert_eq!(lines.len(), 6);
}

#[test]
fn the_plot_has_one_line_per_series() {
    let mut rows = bench::parse(GOOD).unwrap();
    rows.push(row("kmalloc", "bulk", 64, "kalloc", 90.0));
    let svg = bench::svg(&rows, "kmalloc").unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    // alloc_free: c, kalloc, upstream; bulk: kalloc.
    assert_eq!(svg.matches("<polyline").count(), 4);
    assert!(svg.contains("kmalloc: instructions per operation"));
    assert!(svg.contains(">bytes<"));
    assert!(svg.contains("alloc_free / upstream"));
    assert!(svg.contains("bulk / kalloc"));

    let pages = bench::svg(&rows, "pages").unwrap();
    assert_eq!(pages.matches("<polyline").count(), 2);
    assert!(pages.contains(">page order<"));
}

#[test]
fn there_is_no_plot_of_an_unknown_family() {
    let rows = bench::parse(GOOD).unwrap();
    assert!(bench::svg(&rows, "vmalloc").is_none());
    assert!(bench::svg(&[], "kmalloc").is_none());
}

/// Two boots of the benchmark module (`make bench` before address-space
/// randomisation was turned off in the bench VM): every kernel log line at
/// another guest time, every row the same.
const BOOT_A: &str = include_str!("fixtures/bench/boot_a.log");
const BOOT_B: &str = include_str!("fixtures/bench/boot_b.log");
/// [`BOOT_B`] with the order-4 `__get_free_pages` row of C as it was in the
/// unstable runs: 1.29 % above [`BOOT_A`]'s.
const BOOT_B_ORDER4: &str = include_str!("fixtures/bench/boot_b_order4.log");

/// The stability check of `make bench` over the runs in `logs`.
fn stability_of(logs: &[&str]) -> Vec<bench::Deviation> {
    let runs: Vec<Vec<Row>> = logs.iter().map(|l| bench::parse(l).unwrap()).collect();
    bench::stability(&runs).unwrap()
}

#[test]
fn two_boots_that_agree_are_stable() {
    assert_ne!(BOOT_A, BOOT_B, "the fixtures are two boots, not one");
    let d = stability_of(&[BOOT_A, BOOT_B]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].run, 2);
    assert_eq!(d[0].percent, 0.0);
    assert!(d[0].steady());
    let report = d[0].report();
    assert!(
        report.contains("runs 1 and 2 differ by at most 0.00 %"),
        "{report}"
    );
    assert!(!report.contains("FAIL"), "{report}");
}

#[test]
fn two_boots_that_differ_fail_at_the_row_that_moved() {
    let d = stability_of(&[BOOT_A, BOOT_B_ORDER4]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].key, "pages,get_free_pages,4,c");
    assert!((d[0].percent - 1.289).abs() < 0.001, "{}", d[0].percent);
    assert!(!d[0].steady());
    let report = d[0].report();
    assert!(
        report.contains(
            "kalloc-bench: FAIL: runs 1 and 2 differ by 1.29 % at pages,get_free_pages,4,c, \
             more than the 1 % allowed"
        ),
        "{report}"
    );
}

#[test]
fn every_later_run_is_compared_with_the_first() {
    let d = stability_of(&[BOOT_A, BOOT_B, BOOT_B_ORDER4, BOOT_A]);
    let runs: Vec<(usize, bool)> = d.iter().map(|d| (d.run, d.steady())).collect();
    assert_eq!(runs, [(2, true), (3, false), (4, true)]);
    // The first run is the reference, not the run before.
    let d = stability_of(&[BOOT_B_ORDER4, BOOT_A, BOOT_B]);
    assert!(d
        .iter()
        .all(|d| !d.steady() && d.key == "pages,get_free_pages,4,c"));
}

#[test]
fn one_percent_is_still_stable() {
    let a = vec![row("pages", "alloc_pages", 4, "c", 100.0)];
    let with = |instructions: f64| vec![row("pages", "alloc_pages", 4, "c", instructions)];
    for (b, steady) in [(101.0, true), (99.0, true), (101.01, false), (98.99, false)] {
        let d = bench::stability(&[a.clone(), with(b)]).unwrap();
        assert_eq!(d[0].steady(), steady, "{b}: {d:?}");
    }
    assert_eq!(bench::MAX_DEVIATION_PERCENT, 1.0);
}

#[test]
fn one_run_has_nothing_to_compare_and_no_run_is_an_error() {
    let a = bench::parse(BOOT_A).unwrap();
    assert_eq!(bench::stability(&[a.clone()]).unwrap(), []);
    assert!(bench::stability(&[]).is_err());
    let err = bench::stability(&[a.clone(), a[1..].to_vec()]).unwrap_err();
    assert!(err.starts_with("runs 1 and 2: "), "{err}");
}

#[test]
fn the_goal_is_five_percent_over_c_at_most() {
    let rows = |kalloc: f64| {
        vec![
            row("kmalloc", "alloc_free", 64, "c", 100.0),
            row("kmalloc", "alloc_free", 64, "kalloc", kalloc),
            row("kmalloc", "alloc_free", 128, "kalloc", 500.0),
        ]
    };
    // 105 is within, 105.1 is over; a row without C is not counted.
    let verdict = |kalloc: f64| {
        bench::table(&rows(kalloc))
            .lines()
            .nth(2)
            .unwrap()
            .to_string()
    };
    assert!(verdict(105.0).ends_with(" ok"), "{}", verdict(105.0));
    assert!(verdict(105.1).ends_with(" over"), "{}", verdict(105.1));
    assert_eq!(
        bench::goal_summary(&rows(105.0)),
        "kalloc-bench: 1 of 1 kalloc rows within 1.05x of C\n"
    );
    assert_eq!(
        bench::goal_summary(&rows(114.0)),
        "kalloc-bench: 0 of 1 kalloc rows within 1.05x of C\n\
         kalloc-bench: over it: kmalloc alloc_free 64 (up to 1.14)\n"
    );
    // Rows over the goal are listed by family and operation.
    let mut more = rows(114.0);
    more.push(row("kmalloc", "alloc_free", 128, "c", 100.0));
    more.push(row("kmalloc", "alloc_free", 256, "c", 100.0));
    more.push(row("kmalloc", "alloc_free", 256, "kalloc", 120.0));
    more.push(row("slab", "alloc_free", 8, "c", 100.0));
    more.push(row("slab", "alloc_free", 8, "kalloc", 200.0));
    assert_eq!(
        bench::goal_summary(&more),
        "kalloc-bench: 0 of 4 kalloc rows within 1.05x of C\n\
         kalloc-bench: over it: kmalloc alloc_free 64..256 (up to 5.00), slab alloc_free 8 (up to 2.00)\n"
    );
    assert!(bench::markdown_table(&rows(114.0)).contains("| 1.14 | - | over |"));
}
