//! `kalloc-vm`: boots the test VM once and prints a per-suite summary.
//! Used by `make run`; exits non-zero unless the run passed.

use std::process::ExitCode;

use kalloc_harness::vm;

fn main() -> ExitCode {
    let top = vm::top_dir();
    // A set-up problem is one line, before the VM starts.
    if let Err(why) = vm::user_modules(&std::env::var("MODULES").unwrap_or_default()) {
        eprintln!("kalloc: error: {why}");
        return ExitCode::FAILURE;
    }
    match vm::run(&top) {
        Err(why) => {
            eprintln!("kalloc: FAIL (vm): {why}");
            ExitCode::FAILURE
        }
        Ok(run) => {
            let log = run.log_path.display().to_string();
            print!("{}", vm::summary(&run.verdict));
            println!("{}", run.verdict.headline(&log));
            if run.verdict.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
