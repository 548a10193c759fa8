//! A parser for the KTAP that KUnit prints to the kernel log.
//!
//! A module's suites appear in the log like this (after the printk time
//! stamp, which [`strip_timestamp`] removes):
//!
//! ```text
//!     KTAP version 1
//!     # Subtest: kalloc_gfp
//!     # module: kalloc
//!     1..2
//!     ok 1 flags_match_c
//!     # combine: ASSERTION FAILED at src/gfp.rs:120
//!     not ok 2 combine
//! # kalloc_gfp: pass:1 fail:1 skip:0 total:2
//! # Totals: pass:1 fail:1 skip:0 total:2
//! not ok 7 kalloc_gfp
//! ```
//!
//! A suite starts at its `# Subtest:` line and ends at the unindented
//! result line that names it. A suite that starts and never ends (the
//! kernel crashed, or the log was cut short) is kept, with no result, so
//! that the verdict can say where the run stopped. Lines the parser does
//! not know (other kernel messages interleaved with the KTAP) are kept as
//! diagnostics of the suite they fall in.

/// The outcome of a test case or of a whole suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `ok N name`
    Pass,
    /// `not ok N name`
    Fail,
    /// `ok N name # SKIP reason`
    Skip(String),
}

/// One test case of a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The case's number in its suite, as printed.
    pub number: u32,
    /// The case's name (the Rust test function's name).
    pub name: String,
    /// What the case reported.
    pub status: Status,
    /// Lines printed while the case ran (assertion messages, kernel lines).
    pub diagnostics: Vec<String>,
}

/// One KUnit suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// The suite's name, from its `# Subtest:` line.
    pub name: String,
    /// The module that registered it, from its `# module:` line.
    pub module: Option<String>,
    /// The number of cases the suite announced (`1..N`).
    pub plan: Option<u32>,
    /// The cases that reported, in order.
    pub cases: Vec<Case>,
    /// The suite's own result line; `None` if the suite never finished.
    pub status: Option<Status>,
    /// Lines after the last case and before the suite's end.
    pub trailing: Vec<String>,
}

impl Suite {
    fn new(name: &str) -> Self {
        Suite {
            name: name.to_string(),
            module: None,
            plan: None,
            cases: Vec::new(),
            status: None,
            trailing: Vec::new(),
        }
    }

    /// Whether the suite printed its own result line.
    pub fn finished(&self) -> bool {
        self.status.is_some()
    }
}

/// Removes a printk time stamp (`[    1.234567] `) and a trailing `\r`.
pub fn strip_timestamp(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if let Some(rest) = line.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let stamp = rest[..end].trim();
            if !stamp.is_empty() && stamp.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let after = &rest[end + 1..];
                return after.strip_prefix(' ').unwrap_or(after);
            }
        }
    }
    line
}

/// A parsed `ok`/`not ok` line.
struct ResultLine<'a> {
    number: u32,
    name: &'a str,
    status: Status,
}

fn parse_result(s: &str) -> Option<ResultLine<'_>> {
    let (failed, rest) = if let Some(r) = s.strip_prefix("not ok ") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("ok ") {
        (false, r)
    } else {
        return None;
    };
    let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let number = num.parse().ok()?;
    let (name, directive) = match rest.split_once(" # ") {
        Some((n, d)) => (n.trim(), Some(d.trim())),
        None => (rest.trim(), None),
    };
    let status = match directive {
        Some(d) if d.len() >= 4 && d[..4].eq_ignore_ascii_case("skip") => {
            Status::Skip(d[4..].trim().to_string())
        }
        _ if failed => Status::Fail,
        _ => Status::Pass,
    };
    Some(ResultLine {
        number,
        name,
        status,
    })
}

fn parse_plan(s: &str) -> Option<u32> {
    s.strip_prefix("1..")?.trim().parse().ok()
}

/// Parses every KUnit suite found in a kernel log.
pub fn parse(log: &str) -> Vec<Suite> {
    parse_all(log).0
}

/// Parses every KUnit suite found in a kernel log, and also returns the
/// result lines it could not place in a suite: a `not ok` case line outside
/// any suite, or a suite result line that names no open suite. A garbled
/// `# Subtest:` line leaves its suite's results there, so they must not be
/// dropped in silence.
pub fn parse_all(log: &str) -> (Vec<Suite>, Vec<String>) {
    let mut suites = Vec::new();
    let mut unplaced = Vec::new();
    let mut current: Option<Suite> = None;
    let mut pending: Vec<String> = Vec::new();

    for raw in log.lines() {
        let line = strip_timestamp(raw);
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();

        if indent == 4 {
            if let Some(name) = body.strip_prefix("# Subtest: ") {
                if let Some(unfinished) = current.take() {
                    suites.push(unfinished);
                }
                current = Some(Suite::new(name.trim()));
                pending.clear();
                continue;
            }
        }

        let Some(suite) = current.as_mut() else {
            // Outside a suite, only suite results that belong to no suite
            // (boot suites start with their own `# Subtest:`) and failed
            // cases matter.
            if let Some(r) = parse_result(body) {
                if indent == 0 || r.status == Status::Fail {
                    unplaced.push(body.to_string());
                }
            }
            continue;
        };

        match indent {
            4 => {
                if let Some(m) = body.strip_prefix("# module: ") {
                    suite.module = Some(m.trim().to_string());
                } else if let Some(n) = parse_plan(body) {
                    if suite.plan.is_none() {
                        suite.plan = Some(n);
                    }
                } else if let Some(r) = parse_result(body) {
                    suite.cases.push(Case {
                        number: r.number,
                        name: r.name.to_string(),
                        status: r.status,
                        diagnostics: std::mem::take(&mut pending),
                    });
                } else if !body.is_empty() && body != "KTAP version 1" {
                    pending.push(body.to_string());
                }
            }
            0 => match parse_result(body) {
                Some(r) if r.name == suite.name => {
                    suite.status = Some(r.status);
                    suite.trailing = std::mem::take(&mut pending);
                    suites.push(current.take().expect("current suite"));
                }
                Some(_) => unplaced.push(body.to_string()),
                None => {
                    if !body.is_empty() && !body.starts_with("# ") {
                        pending.push(body.to_string());
                    }
                }
            },
            // Deeper levels: parameterised cases' subtests. Their parent
            // case line (at indent 4) carries the verdict.
            _ => pending.push(body.to_string()),
        }
    }
    if let Some(mut unfinished) = current.take() {
        unfinished.trailing = pending;
        suites.push(unfinished);
    }
    (suites, unplaced)
}

/// Renders suites as a standalone KTAP document, numbered from 1, so that
/// other KTAP tools (the kernel's `kunit.py parse`) can check them too.
pub fn to_ktap(suites: &[Suite]) -> String {
    let mut out = String::from("KTAP version 1\n");
    out += &format!("1..{}\n", suites.len());
    for (i, s) in suites.iter().enumerate() {
        out += "    KTAP version 1\n";
        out += &format!("    # Subtest: {}\n", s.name);
        if let Some(m) = &s.module {
            out += &format!("    # module: {m}\n");
        }
        if let Some(p) = s.plan {
            out += &format!("    1..{p}\n");
        }
        for c in &s.cases {
            for d in &c.diagnostics {
                out += &format!("    # {}\n", d.trim_start_matches("# "));
            }
            out += &format!("    {}\n", result_line(c.number, &c.name, &c.status));
        }
        match &s.status {
            Some(st) => out += &format!("{}\n", result_line(i as u32 + 1, &s.name, st)),
            // An unfinished suite stays unfinished: the document ends here.
            None => break,
        }
    }
    out
}

fn result_line(n: u32, name: &str, status: &Status) -> String {
    match status {
        Status::Pass => format!("ok {n} {name}"),
        Status::Fail => format!("not ok {n} {name}"),
        Status::Skip(why) => format!("ok {n} {name} # SKIP {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_printk_timestamps() {
        assert_eq!(strip_timestamp("[    1.234567]     ok 1 a"), "    ok 1 a");
        assert_eq!(strip_timestamp("[12345.000001] x\r"), "x");
        assert_eq!(strip_timestamp("[not a stamp] x"), "[not a stamp] x");
        assert_eq!(strip_timestamp("plain"), "plain");
    }

    #[test]
    fn parses_result_lines() {
        let r = parse_result("ok 3 some_case").unwrap();
        assert_eq!((r.number, r.name, r.status), (3, "some_case", Status::Pass));
        let r = parse_result("not ok 12 other").unwrap();
        assert_eq!((r.number, r.name, r.status), (12, "other", Status::Fail));
        let r = parse_result("ok 1 skipped # SKIP no highmem").unwrap();
        assert_eq!(r.status, Status::Skip("no highmem".into()));
        assert!(parse_result("okay 1 x").is_none());
        assert!(parse_result("ok x y").is_none());
    }

    #[test]
    fn ignores_empty_boot_block_and_other_text() {
        let log = "[    0.5] KTAP version 1\n[    0.5] 1..0\n[    0.6] random line\n";
        assert!(parse(log).is_empty());
    }

    #[test]
    fn ktap_round_trip_renumbers_suites() {
        let log = "    # Subtest: s\n    1..1\n    ok 1 a\nok 9 s\n";
        let suites = parse(log);
        let doc = to_ktap(&suites);
        assert!(doc.contains("\nok 1 s\n"), "{doc}");
        assert_eq!(parse(&doc), suites);
    }
}
