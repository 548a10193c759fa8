//! `kalloc-bench`: boots the VM with the benchmark module `BENCH_RUNS`
//! times (default 2), keeps each run's results under `target/bench/`, and
//! prints the first run's table and how much later runs differ from it.
//! Used by `make bench`; exits non-zero on any error, or if two runs
//! differ by more than [`bench::MAX_DEVIATION_PERCENT`].

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use kalloc_harness::bench::{self, Row};
use kalloc_harness::vm;

/// The number of runs when `BENCH_RUNS` is not set.
const DEFAULT_RUNS: usize = 2;

fn main() -> ExitCode {
    match bench_all(&vm::top_dir()) {
        Err(why) => {
            eprintln!("kalloc-bench: FAIL: {why}");
            ExitCode::FAILURE
        }
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
    }
}

/// The number of runs `BENCH_RUNS` asks for (at least 1).
fn runs_wanted() -> Result<usize, String> {
    match std::env::var("BENCH_RUNS") {
        Err(_) => Ok(DEFAULT_RUNS),
        Ok(s) if s.trim().is_empty() => Ok(DEFAULT_RUNS),
        Ok(s) => s
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| format!("BENCH_RUNS={s}: not a number of runs (1 or more)")),
    }
}

/// Writes `text` to `path`.
fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Boots the VM once with the benchmark module, logging to `log`, and
/// parses its rows.
fn run_once(top: &Path, log: &Path) -> Result<Vec<Row>, String> {
    // The script removes it too; here, so that a failure to start it
    // leaves no stale log behind.
    let _ = std::fs::remove_file(log);
    let status = Command::new(top.join("scripts/run-vm.sh"))
        .current_dir(top)
        .env("VM_BENCH", "1")
        .env("VM_LOG", log)
        .status()
        .map_err(|e| format!("cannot run scripts/run-vm.sh: {e}"))?;
    if !status.success() {
        return Err(format!(
            "scripts/run-vm.sh failed ({status}); see {}",
            log.display()
        ));
    }
    let text = std::fs::read(log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    let rows = bench::parse(&String::from_utf8_lossy(&text))
        .map_err(|e| format!("{}: {e}", log.display()))?;
    if rows.is_empty() {
        return Err(format!(
            "{}: the benchmark module reported no rows",
            log.display()
        ));
    }
    Ok(rows)
}

/// Runs the benchmark, writes its results and reports them. `Ok(false)`
/// if the runs differ too much; `Err` for anything else that went wrong.
fn bench_all(top: &Path) -> Result<bool, String> {
    let runs = runs_wanted()?;
    let out: PathBuf = top.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;

    let mut results: Vec<Vec<Row>> = Vec::new();
    for n in 1..=runs {
        println!("kalloc-bench: run {n} of {runs}");
        let rows = run_once(top, &out.join(format!("serial-{n}.log")))?;
        write(&out.join(format!("results-run{n}.csv")), &bench::csv(&rows))?;
        results.push(rows);
    }
    let deviations = bench::stability(&results)?;
    let first = &results[0];

    write(&out.join("results.csv"), &bench::csv(first))?;
    for family in bench::families(first) {
        if let Some(plot) = bench::svg(first, &family) {
            write(&out.join(format!("{family}.svg")), &plot)?;
        }
    }
    write(&out.join("table.md"), &bench::markdown_table(first))?;

    print!("{}", bench::table(first));
    print!("{}", bench::goal_summary(first));
    for d in &deviations {
        print!("{}", d.report());
    }
    println!("kalloc-bench: results in {}", out.display());
    Ok(deviations.iter().all(bench::Deviation::steady))
}
