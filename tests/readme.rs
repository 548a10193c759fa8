//! Every Rust snippet of the README is compiled code: its lines, as
//! written, are a run of lines of a doc example (run by `kalloc_doctests`),
//! a sample or a self-test under `src/` or `samples/`. A README snippet that
//! drifts from the code fails here, not in a driver author's build.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of each ```` ```rust ```` block of `text`.
fn rust_blocks(text: &str) -> Vec<Vec<String>> {
    let (mut blocks, mut current) = (Vec::new(), None::<Vec<String>>);
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```rust") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => block.push(line.to_string()),
            (None, _) => {}
        }
    }
    blocks
}

/// A source line as code: without a doc comment's `///` or `//!` and the
/// space after it, and without the indentation (which a README snippet's
/// lines are compared without too).
fn as_code(line: &str) -> &str {
    let t = line.trim_start();
    let t = t
        .strip_prefix("///")
        .or_else(|| t.strip_prefix("//!"))
        .map_or(t, |rest| rest.strip_prefix(' ').unwrap_or(rest));
    t.trim()
}

/// The `.rs` files under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `block`'s lines (blank ones included) are a run of `file`'s.
fn contains_run(file: &[&str], block: &[&str]) -> bool {
    !block.is_empty() && file.windows(block.len()).any(|w| w == block)
}

#[test]
fn every_readme_snippet_is_compiled_code() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = rust_blocks(&readme);
    assert!(!blocks.is_empty(), "the README has Rust snippets");
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("samples"), &mut files);
    let sources: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect();
    for block in &blocks {
        let block: Vec<&str> = block.iter().map(|l| l.trim()).collect();
        // As code, or, for a doc example, as the code in the comment.
        let found = sources.iter().any(|(_, text)| {
            let code: Vec<&str> = text.lines().map(str::trim).collect();
            let examples: Vec<&str> = text.lines().map(as_code).collect();
            contains_run(&code, &block) || contains_run(&examples, &block)
        });
        assert!(
            found,
            "README snippet is in no doc example, sample or test:\n{}",
            block.join("\n")
        );
    }
}

#[test]
fn a_changed_line_is_found_out() {
    let file = ["use a;", "", "let x = 1;", "assert!(x == 1);"];
    assert!(contains_run(&file, &["use a;", "", "let x = 1;"]));
    assert!(!contains_run(&file, &["use a;", "let x = 1;"]));
    assert!(!contains_run(&file, &["let x = 2;"]));
    assert_eq!(as_code("    /// let x = 1;"), "let x = 1;");
    assert_eq!(as_code("//! use a;"), "use a;");
    assert_eq!(as_code("///"), "");
    let blocks = rust_blocks("text\n```rust\nlet a = 1;\n```\n```sh\nmake\n```\n");
    assert_eq!(blocks, vec![vec!["let a = 1;".to_string()]]);
}
