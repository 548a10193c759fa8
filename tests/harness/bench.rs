//! The results of kalloc's benchmark module (`kalloc_bench.ko`), read from
//! the VM's serial log, and the tables, CSV files and plots made of them.
//!
//! The module prints one line per measurement and a closing count:
//!
//! ```text
//! kalloc-bench: row kmalloc,alloc_free,64,kalloc,140.0
//! kalloc-bench: done 1 rows
//! ```
//!
//! The fields of a row are the family, the operation, the size (bytes, or
//! the page order for the `pages*` families), the implementation (`c`,
//! `kalloc` or `upstream`) and the instructions per operation.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::ktap::strip_timestamp;

/// Every line of the module's starts with this.
const MARK_PREFIX: &str = "kalloc-bench: ";
/// A measurement: `row family,operation,size,implementation,instructions`.
const MARK_ROW: &str = "row ";
/// The closing count: `done N rows`.
const MARK_DONE: &str = "done ";
/// The module's own error report: `FAILED <text>`.
const MARK_FAILED: &str = "FAILED";

/// The implementations a row may name, in the order tables show them.
pub const IMPLEMENTATIONS: [&str; 3] = ["c", "kalloc", "upstream"];

/// The header of [`csv`]'s output.
pub const CSV_HEADER: &str = "family,operation,size,implementation,instructions_per_op";

/// One measurement of the benchmark module.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What is measured, e.g. `kmalloc` or `pages`.
    pub family: String,
    /// How it is exercised, e.g. `alloc_free`.
    pub operation: String,
    /// Bytes, or the page order for the `pages*` families.
    pub size: u64,
    /// One of [`IMPLEMENTATIONS`].
    pub implementation: String,
    /// Instructions per operation.
    pub instructions: f64,
}

impl Row {
    /// The row's key as the module prints it:
    /// `family,operation,size,implementation`.
    pub fn key(&self) -> String {
        format!(
            "{},{},{},{}",
            self.family, self.operation, self.size, self.implementation
        )
    }
}

/// Whether `family`'s sizes are page orders rather than bytes.
pub fn is_pages(family: &str) -> bool {
    family.starts_with("pages")
}

/// The families of `rows`, in the order they first appear.
pub fn families(rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        if !out.contains(&r.family) {
            out.push(r.family.clone());
        }
    }
    out
}

/// Parses the benchmark module's rows out of a kernel log (time stamps and
/// other kernel lines are skipped, and so are `kalloc-bench:` lines that
/// are neither a row, nor the count, nor a failure).
///
/// It is an error, naming the line's number and text, if the module
/// reported `FAILED`, if a row is malformed, names an unknown
/// implementation or repeats a key, or if a row follows the count; and it
/// is an error if the log has no `done N rows` line or N is not the number
/// of rows: the run did not finish.
pub fn parse(log: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    // Each key's line number, for duplicates.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut done: Option<usize> = None;
    for (index, raw) in log.lines().enumerate() {
        let number = index + 1;
        let line = strip_timestamp(raw).trim_end();
        let Some(rest) = line.strip_prefix(MARK_PREFIX) else {
            continue;
        };
        let fail = |why: &str| format!("line {number}: {why}: `{line}`");
        if rest.starts_with(MARK_FAILED) {
            return Err(fail("the benchmark module failed"));
        }
        if let Some(fields) = rest.strip_prefix(MARK_ROW) {
            if done.is_some() {
                return Err(fail("a row after the `done` line"));
            }
            let row = parse_row(fields).map_err(|why| fail(&why))?;
            let key = row.key();
            if let Some(first) = seen.get(&key) {
                return Err(fail(&format!(
                    "duplicate row {key} (first at line {first})"
                )));
            }
            seen.insert(key, number);
            rows.push(row);
        } else if let Some(count) = rest.strip_prefix(MARK_DONE) {
            if done.is_some() {
                return Err(fail("a second `done` line"));
            }
            let count = count
                .strip_suffix(" rows")
                .or_else(|| count.strip_suffix(" row"))
                .and_then(|n| parse_digits(n.trim()))
                .ok_or_else(|| fail("malformed `done N rows` line"))?;
            if usize::try_from(count).ok() != Some(rows.len()) {
                return Err(fail(&format!(
                    "the module reports {count} rows but {} were read: the log is incomplete",
                    rows.len()
                )));
            }
            done = Some(number);
        }
    }
    if done.is_none() {
        return Err(format!(
            "no `{MARK_PREFIX}{MARK_DONE}N rows` line ({} rows read): the benchmark did not finish",
            rows.len()
        ));
    }
    Ok(rows)
}

/// Parses the fields of a row line (after `row `).
fn parse_row(fields: &str) -> Result<Row, String> {
    let parts: Vec<&str> = fields.split(',').map(str::trim).collect();
    let [family, operation, size, implementation, instructions] = parts[..] else {
        return Err(format!("a row has 5 fields, not {}", parts.len()));
    };
    for (what, name) in [("family", family), ("operation", operation)] {
        if !is_name(name) {
            return Err(format!("bad {what} `{name}`"));
        }
    }
    let size = parse_digits(size).ok_or_else(|| format!("bad size `{size}`"))?;
    if !IMPLEMENTATIONS.contains(&implementation) {
        return Err(format!(
            "unknown implementation `{implementation}` (not one of {})",
            IMPLEMENTATIONS.join(", ")
        ));
    }
    let instructions = parse_decimal(instructions)
        .ok_or_else(|| format!("bad instructions per op `{instructions}`"))?;
    Ok(Row {
        family: family.to_string(),
        operation: operation.to_string(),
        size,
        implementation: implementation.to_string(),
        instructions,
    })
}

/// Whether `s` is a usable family or operation name: ASCII letters,
/// digits, `_` and `-` only, so that it is safe in a file name, a CSV
/// field and an SVG document.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses a plain unsigned decimal integer (no sign, no spaces).
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a non-negative decimal number: digits, optionally followed by a
/// point and more digits (no sign, exponent, `inf` or `NaN`).
fn parse_decimal(s: &str) -> Option<f64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, "0"));
    parse_digits(whole)?;
    parse_digits(fraction)?;
    s.parse().ok().filter(|v: &f64| v.is_finite())
}

/// Renders rows as CSV: [`CSV_HEADER`], then one line per row in the given
/// order, instructions with one decimal place.
pub fn csv(rows: &[Row]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.1}",
            r.family, r.operation, r.size, r.implementation, r.instructions
        );
    }
    out
}

/// One line of a table: a family, operation and size, and the
/// instructions of each of [`IMPLEMENTATIONS`] (if measured).
struct Group<'a> {
    family: &'a str,
    operation: &'a str,
    size: u64,
    values: [Option<f64>; 3],
}

/// Groups rows by family, operation and size: families and operations in
/// the order they first appear, sizes ascending. Rows naming an unknown
/// implementation are left out; of repeated keys, the last one counts.
fn groups(rows: &[Row]) -> Vec<Group<'_>> {
    let mut family_rank: HashMap<&str, usize> = HashMap::new();
    let mut operation_rank: HashMap<(&str, &str), usize> = HashMap::new();
    let mut groups: BTreeMap<(usize, usize, u64), Group<'_>> = BTreeMap::new();
    for r in rows {
        let Some(slot) = IMPLEMENTATIONS.iter().position(|i| *i == r.implementation) else {
            continue;
        };
        let n = family_rank.len();
        let family = *family_rank.entry(&r.family).or_insert(n);
        let n = operation_rank.len();
        let operation = *operation_rank.entry((&r.family, &r.operation)).or_insert(n);
        let group = groups
            .entry((family, operation, r.size))
            .or_insert_with(|| Group {
                family: &r.family,
                operation: &r.operation,
                size: r.size,
                values: [None; 3],
            });
        group.values[slot] = Some(r.instructions);
    }
    groups.into_values().collect()
}

/// The most a kalloc row may cost, as a multiple of its C row (same family,
/// operation and size): kalloc's goal.
pub const GOAL_RATIO: f64 = 1.05;

/// The column headers of [`table`] and [`markdown_table`].
const TABLE_HEADER: [&str; 9] = [
    "family",
    "operation",
    "size",
    "c",
    "kalloc",
    "upstream",
    "kalloc/c",
    "kalloc/upstream",
    "goal",
];

/// Whether `kalloc` is within [`GOAL_RATIO`] of `c`: `Some(true)` or
/// `Some(false)`, `None` if either is missing (no C row to compare with).
fn within_goal(kalloc: Option<f64>, c: Option<f64>) -> Option<bool> {
    match (kalloc, c) {
        (Some(k), Some(c)) if c > 0.0 => Some(k <= c * GOAL_RATIO),
        _ => None,
    }
}

/// `num / den` with two decimals, or `-` if either is missing or `den` is
/// not positive.
fn ratio(num: Option<f64>, den: Option<f64>) -> String {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => format!("{:.2}", n / d),
        _ => "-".to_string(),
    }
}

/// The cells of a table: one line per [`Group`], as [`TABLE_HEADER`] says.
fn table_cells(rows: &[Row]) -> Vec<[String; 9]> {
    groups(rows)
        .iter()
        .map(|g| {
            let value = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
            let [c, kalloc, upstream] = g.values;
            [
                g.family.to_string(),
                g.operation.to_string(),
                g.size.to_string(),
                value(c),
                value(kalloc),
                value(upstream),
                ratio(kalloc, c),
                ratio(kalloc, upstream),
                match within_goal(kalloc, c) {
                    Some(true) => "ok",
                    Some(false) => "over",
                    None => "-",
                }
                .to_string(),
            ]
        })
        .collect()
}

/// A plain-text table, one line per family, operation and size, with the
/// instructions per op of each implementation (`-` where missing), the
/// ratios `kalloc/c` and `kalloc/upstream` (two decimals, `-` where
/// missing) and the verdict against [`GOAL_RATIO`] (`ok`, `over`, or `-`
/// without a C row). The size is bytes, or the page order for `pages*`
/// families.
pub fn table(rows: &[Row]) -> String {
    let cells = table_cells(rows);
    let mut widths = TABLE_HEADER.map(str::len);
    for line in &cells {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.len());
        }
    }
    let render = |line: &[String]| {
        let mut out = String::new();
        for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
            if i > 0 {
                out += "  ";
            }
            // Names to the left, numbers to the right.
            if i < 2 {
                let _ = write!(out, "{cell:<w$}");
            } else {
                let _ = write!(out, "{cell:>w$}");
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = render(&TABLE_HEADER.map(String::from));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out += &render(&rule);
    for line in &cells {
        out += &render(line);
    }
    out
}

/// The same table as [`table`], in Markdown (`table.md`; docs/bench/ keeps a copy).
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", TABLE_HEADER.join(" | "));
    out += "|:--|:--|--:|--:|--:|--:|--:|--:|:-:|\n";
    for line in table_cells(rows) {
        let _ = writeln!(out, "| {} |", line.join(" | "));
    }
    out
}

/// The verdict of a run against [`GOAL_RATIO`], as `make bench` prints it:
/// how many kalloc rows with a C row are within the goal, and the others by
/// family and operation (`kmalloc alloc_free 8..8192 (up to 1.14)`).
pub fn goal_summary(rows: &[Row]) -> String {
    let mut compared = 0;
    let mut within = 0;
    // (family, operation, first size, last size, largest ratio).
    let mut over: Vec<(&str, &str, u64, u64, f64)> = Vec::new();
    for g in groups(rows) {
        let [c, kalloc, _] = g.values;
        let Some(ok) = within_goal(kalloc, c) else {
            continue;
        };
        compared += 1;
        if ok {
            within += 1;
            continue;
        }
        let r = kalloc.unwrap_or(0.0) / c.unwrap_or(1.0);
        match over.last_mut() {
            Some(o) if o.0 == g.family && o.1 == g.operation => {
                o.3 = g.size;
                o.4 = o.4.max(r);
            }
            _ => over.push((g.family, g.operation, g.size, g.size, r)),
        }
    }
    let mut out =
        format!("kalloc-bench: {within} of {compared} kalloc rows within {GOAL_RATIO:.2}x of C\n");
    if !over.is_empty() {
        let list: Vec<String> = over
            .iter()
            .map(|(f, o, first, last, r)| {
                let sizes = if first == last {
                    first.to_string()
                } else {
                    format!("{first}..{last}")
                };
                format!("{f} {o} {sizes} (up to {r:.2})")
            })
            .collect();
        let _ = writeln!(out, "kalloc-bench: over it: {}", list.join(", "));
    }
    out
}

/// Maps each row's key to its instructions; a repeated key is an error.
fn by_key(rows: &[Row], which: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut map = BTreeMap::new();
    for r in rows {
        if map.insert(r.key(), r.instructions).is_some() {
            return Err(format!("{which} run: duplicate row {}", r.key()));
        }
    }
    Ok(map)
}

/// Compares two runs: the largest relative difference, in percent of the
/// first run's value, between the instructions of the same key, and that
/// key (`family,operation,size,implementation`). A key whose value is 0 in
/// the first run and not in the second differs infinitely. It is an error
/// if the runs do not have the same keys. Two empty runs differ by 0 %
/// with an empty key.
pub fn compare(a: &[Row], b: &[Row]) -> Result<(f64, String), String> {
    let first = by_key(a, "first")?;
    let second = by_key(b, "second")?;
    if let Some(key) = first.keys().find(|k| !second.contains_key(*k)) {
        return Err(format!("{key} is in the first run only"));
    }
    if let Some(key) = second.keys().find(|k| !first.contains_key(*k)) {
        return Err(format!("{key} is in the second run only"));
    }
    let mut worst: Option<(f64, String)> = None;
    for r in a {
        let x = r.instructions;
        let y = second.get(&r.key()).copied().unwrap_or(x);
        let diff = if x == y {
            0.0
        } else if x == 0.0 {
            f64::INFINITY
        } else {
            ((y - x) / x).abs() * 100.0
        };
        if worst.as_ref().is_none_or(|w| diff > w.0) {
            worst = Some((diff, r.key()));
        }
    }
    Ok(worst.unwrap_or((0.0, String::new())))
}

/// How much, in percent, a later run's instructions per operation may
/// differ from the first run's: the guest counts instructions, so a figure
/// should not move between boots at all.
pub const MAX_DEVIATION_PERCENT: f64 = 1.0;

/// How a later run compares with the first: see [`stability`].
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// The later run's number (2 for the second boot).
    pub run: usize,
    /// The largest difference from the first run, in percent.
    pub percent: f64,
    /// The key of the row where it is largest.
    pub key: String,
}

impl Deviation {
    /// Whether the run is within [`MAX_DEVIATION_PERCENT`] of the first.
    pub fn steady(&self) -> bool {
        self.percent <= MAX_DEVIATION_PERCENT
    }

    /// What `make bench` prints for this run: the figure, and a `FAIL`
    /// line after it if the run is not [`steady`](Self::steady).
    pub fn report(&self) -> String {
        let Deviation { run, percent, key } = self;
        let mut out =
            format!("kalloc-bench: runs 1 and {run} differ by at most {percent:.2} % ({key})\n");
        if !self.steady() {
            let _ = writeln!(
                out,
                "kalloc-bench: FAIL: runs 1 and {run} differ by {percent:.2} % at {key}, \
                 more than the {MAX_DEVIATION_PERCENT:.0} % allowed: the measurement is not stable"
            );
        }
        out
    }
}

/// The stability check of `make bench`: how each run after the first
/// differs from the first ([`compare`]), in order. The measurement is
/// stable if every [`Deviation`] is [`steady`](Deviation::steady). It is
/// an error if a run does not have the first run's rows.
pub fn stability(runs: &[Vec<Row>]) -> Result<Vec<Deviation>, String> {
    let Some((first, later)) = runs.split_first() else {
        return Err("no runs".to_string());
    };
    later
        .iter()
        .enumerate()
        .map(|(i, rows)| {
            let run = i + 2;
            let (percent, key) =
                compare(first, rows).map_err(|e| format!("runs 1 and {run}: {e}"))?;
            Ok(Deviation { run, percent, key })
        })
        .collect()
}

/// The size of [`svg`]'s plots.
const SVG_WIDTH: f64 = 640.0;
const SVG_HEIGHT: f64 = 400.0;
/// The plot area of [`svg`]'s plots; the legend is right of it.
const PLOT_LEFT: f64 = 70.0;
const PLOT_RIGHT: f64 = 445.0;
const PLOT_TOP: f64 = 40.0;
const PLOT_BOTTOM: f64 = 345.0;
/// The space kept between the plot area's sides and the first and last
/// sizes.
const PLOT_PAD: f64 = 12.0;

/// Each implementation's colour, as [`IMPLEMENTATIONS`] orders them.
const COLOURS: [&str; 3] = ["#1f77b4", "#d62728", "#2ca02c"];
/// Each operation's dash pattern, in turn (the first solid).
const DASHES: [&str; 4] = ["", "6 3", "2 3", "8 3 2 3"];

/// One line of a plot: an operation's instructions for one implementation,
/// by size.
struct Series<'a> {
    operation: &'a str,
    implementation: &'a str,
    /// The operation's place among the family's, for its dashes and marker.
    style: usize,
    points: Vec<(u64, f64)>,
}

/// The series of `family`'s rows: operations in the order they first
/// appear, implementations as [`IMPLEMENTATIONS`] orders them, points by
/// size.
fn series<'a>(rows: &'a [Row], family: &str) -> Vec<Series<'a>> {
    let mut operations: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.family == family) {
        if !operations.contains(&r.operation.as_str()) {
            operations.push(&r.operation);
        }
    }
    let mut out = Vec::new();
    for (style, operation) in operations.iter().enumerate() {
        let mut implementations: Vec<&str> = rows
            .iter()
            .filter(|r| r.family == family && r.operation == *operation)
            .map(|r| r.implementation.as_str())
            .collect();
        implementations.sort_by_key(|i| IMPLEMENTATIONS.iter().position(|k| k == i));
        implementations.dedup();
        for implementation in implementations {
            let mut points: Vec<(u64, f64)> = rows
                .iter()
                .filter(|r| {
                    r.family == family
                        && r.operation == *operation
                        && r.implementation == implementation
                })
                .map(|r| (r.size, r.instructions))
                .collect();
            points.sort_by_key(|p| p.0);
            out.push(Series {
                operation,
                implementation,
                style,
                points,
            });
        }
    }
    out
}

/// A round step for about `span / 4`: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64) -> f64 {
    let raw = span / 4.0;
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let m = match raw / magnitude {
        f if f <= 1.0 => 1.0,
        f if f <= 2.0 => 2.0,
        f if f <= 5.0 => 5.0,
        _ => 10.0,
    };
    m * magnitude
}

/// `2^exponent` bytes, short: `64`, `4K`, `2M`.
fn bytes_label(exponent: u32) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let unit = (exponent / 10).min(6);
    format!("{}{}", 1u64 << (exponent - 10 * unit), UNITS[unit as usize])
}

/// Escapes text for an SVG document.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws a series' marker (by its style: circle, square, triangle or
/// diamond) at `(x, y)`.
fn marker(style: usize, x: f64, y: f64, colour: &str) -> String {
    match style % 4 {
        0 => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{colour}"/>"#),
        1 => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{colour}"/>"#,
            x - 3.5,
            y - 3.5
        ),
        2 => format!(
            r#"<path d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{colour}"/>"#,
            y - 4.5,
            x + 4.0,
            y + 3.0,
            x - 4.0,
            y + 3.0
        ),
        _ => format!(
            r#"<path d="M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z" fill="{colour}"/>"#,
            y - 4.5,
            x + 4.5,
            y + 4.5,
            x - 4.5
        ),
    }
}

/// A self-contained SVG line plot of `family`'s rows: instructions per
/// operation (linear, from 0) over size (bytes on a log2 axis, or page
/// order on a linear axis for `pages*` families), one line with markers per
/// operation and implementation (colour by implementation, dashes and
/// marker shape by operation), a legend and a title. `None` if the family
/// has no rows.
pub fn svg(rows: &[Row], family: &str) -> Option<String> {
    let series = series(rows, family);
    if series.is_empty() {
        return None;
    }
    let pages = is_pages(family);
    let points = series.iter().flat_map(|s| s.points.iter());
    let (min_size, max_size, max_value) = points
        .fold((u64::MAX, 0u64, 0f64), |(lo, hi, top), &(size, value)| {
            (lo.min(size), hi.max(size), top.max(value))
        });

    // The x axis: page orders as they are, bytes as their log2 (a size of
    // 0 is drawn as 1).
    let position = |size: u64| {
        if pages {
            size as f64
        } else {
            (size.max(1) as f64).log2()
        }
    };
    let (mut x_lo, mut x_hi) = if pages {
        (min_size as f64, max_size as f64)
    } else {
        (
            position(min_size).floor(),
            position(max_size).ceil().min(64.0),
        )
    };
    if x_hi <= x_lo {
        // One size only: in the middle.
        x_lo -= 1.0;
        x_hi += 1.0;
    }
    let x_of = |size: u64| {
        PLOT_LEFT
            + PLOT_PAD
            + (position(size) - x_lo) / (x_hi - x_lo) * (PLOT_RIGHT - PLOT_LEFT - 2.0 * PLOT_PAD)
    };

    // The y axis: from 0 to a round value at or above the largest.
    let step = nice_step(max_value);
    let y_hi = ((max_value / step).ceil() * step).max(step);
    let y_of = |value: f64| PLOT_BOTTOM - value / y_hi * (PLOT_BOTTOM - PLOT_TOP);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" height="{SVG_HEIGHT}" viewBox="0 0 {SVG_WIDTH} {SVG_HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{SVG_WIDTH}" height="{SVG_HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="24" text-anchor="middle" font-size="15">{}: instructions per operation</text>"#,
        SVG_WIDTH / 2.0,
        xml_escape(family)
    );

    // The y ticks, with grid lines.
    let mut tick = 0.0;
    while tick <= y_hi + step / 2.0 {
        let y = y_of(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{PLOT_LEFT}" y1="{y:.1}" x2="{PLOT_RIGHT}" y2="{y:.1}" stroke="#dddddd"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{tick:.decimals$}</text>"#,
            PLOT_LEFT - 6.0,
            y + 4.0
        );
        tick += step;
    }

    // The x ticks: every page order or power of two in range, thinned to
    // at most about ten labels.
    let (first, last) = (x_lo.ceil().max(0.0) as u64, x_hi.floor() as u64);
    let every = ((last - first.min(last)) / 10 + 1) as usize;
    for t in (first..=last).step_by(every) {
        let (x, label) = if pages {
            (x_of(t), t.to_string())
        } else {
            let exponent = t.min(63) as u32;
            (x_of(1u64 << exponent), bytes_label(exponent))
        };
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{PLOT_BOTTOM}" x2="{x:.1}" y2="{:.1}" stroke="black"/>"#,
            PLOT_BOTTOM + 5.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            PLOT_BOTTOM + 18.0
        );
    }

    // The frame and the axis labels.
    let _ = writeln!(
        out,
        r#"<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        PLOT_RIGHT - PLOT_LEFT,
        PLOT_BOTTOM - PLOT_TOP
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        PLOT_BOTTOM + 40.0,
        if pages { "page order" } else { "bytes" }
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">instructions per op</text>"#,
        (PLOT_TOP + PLOT_BOTTOM) / 2.0
    );

    // The series, and the legend.
    for (i, s) in series.iter().enumerate() {
        let colour = IMPLEMENTATIONS
            .iter()
            .position(|k| *k == s.implementation)
            .map_or("#7f7f7f", |k| COLOURS[k]);
        let dash = match DASHES[s.style % DASHES.len()] {
            "" => String::new(),
            d => format!(r#" stroke-dasharray="{d}""#),
        };
        let coordinates: Vec<String> = s
            .points
            .iter()
            .map(|&(size, value)| format!("{:.1},{:.1}", x_of(size), y_of(value)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
            coordinates.join(" ")
        );
        for &(size, value) in &s.points {
            let _ = writeln!(out, "{}", marker(s.style, x_of(size), y_of(value), colour));
        }
        let y = PLOT_TOP + 8.0 + 18.0 * i as f64;
        let x = PLOT_RIGHT + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"{dash}/>"#,
            x + 24.0
        );
        let _ = writeln!(out, "{}", marker(s.style, x + 12.0, y, colour));
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="11">{} / {}</text>"#,
            x + 30.0,
            y + 4.0,
            xml_escape(s.operation),
            xml_escape(s.implementation)
        );
    }
    out += "</svg>\n";
    Some(out)
}
