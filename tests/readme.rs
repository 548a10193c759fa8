//! The README and the pages of `docs/` say what the code says:
//!
//! - every Rust snippet is compiled code: its lines, as written, are a run
//!   of lines of a doc example (run by `kalloc_doctests`), a sample or a
//!   self-test under `src/` or `samples/`;
//! - every link into `make doc`'s output (`target/doc/kalloc/...`) names a
//!   public module, item or method of the library;
//! - every link to a file of the tree finds it, and its `#anchor` a heading
//!   there.
//!
//! A snippet or link that drifts from the code fails here, not in a driver
//! author's build or browser.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The README and the pages of `docs/`, as (path, text).
fn pages() -> Vec<(PathBuf, String)> {
    let mut paths = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
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
fn every_snippet_is_compiled_code() {
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
    let pages = pages();
    assert!(
        !rust_blocks(&pages[0].1).is_empty(),
        "the README has Rust snippets"
    );
    for (page, text) in &pages {
        for block in rust_blocks(text) {
            let block: Vec<&str> = block.iter().map(|l| l.trim()).collect();
            // As code, or, for a doc example, as the code in the comment.
            let found = sources.iter().any(|(_, text)| {
                let code: Vec<&str> = text.lines().map(str::trim).collect();
                let examples: Vec<&str> = text.lines().map(as_code).collect();
                contains_run(&code, &block) || contains_run(&examples, &block)
            });
            assert!(
                found,
                "{}: snippet is in no doc example, sample or test:\n{}",
                page.display(),
                block.join("\n")
            );
        }
    }
}

/// The targets of the Markdown links of `text` (`[label](target)`).
fn link_targets(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(&rest[..end]);
        }
    }
    out
}

/// Where `make doc` puts the library's pages, as links name them.
const RUSTDOC: &str = "target/doc/kalloc/";

/// The library's sources that make the rustdoc page `module` (empty: the
/// crate root) documents: the module's file and its folder, without the
/// self-tests; `None` unless `src/lib.rs` declares it `pub mod`.
fn module_sources(module: &str) -> Option<String> {
    let src = root().join("src");
    if module.is_empty() {
        return Some(std::fs::read_to_string(src.join("lib.rs")).unwrap());
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    if !lib
        .lines()
        .any(|l| l.trim() == format!("pub mod {module};"))
    {
        return None;
    }
    let mut files = vec![src.join(format!("{module}.rs"))];
    if src.join(module).is_dir() {
        rust_files(&src.join(module), &mut files);
    }
    let text = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    Some(text)
}

/// Whether `text` has a line that defines `keyword name` (`pub struct
/// Gfp`, `pub fn zone`, `macro_rules! kasprintf`): the name followed by a
/// character that cannot continue it, and for all but macros, `pub`.
fn defines(text: &str, keyword: &str, name: &str) -> bool {
    let wanted = format!("{keyword} {name}");
    text.lines().any(|line| {
        let line = line.trim_start();
        line.match_indices(&wanted).any(|(i, _)| {
            let next = line[i + wanted.len()..].chars().next();
            let ends = !next.is_some_and(|c| c.is_alphanumeric() || c == '_');
            ends && (keyword == "macro_rules!" || line.starts_with("pub "))
        })
    })
}

/// Why the rustdoc page `page` (the part of a link after `kalloc/`) names
/// nothing in the library, or `None` if it names something.
fn rustdoc_problem(page: &str) -> Option<String> {
    let (path, fragment) = page.split_once('#').unwrap_or((page, ""));
    let (module, file) = path.rsplit_once('/').unwrap_or(("", path));
    if module.contains('/') {
        return Some(format!("{module}: kalloc's modules are one level deep"));
    }
    let Some(sources) = module_sources(module) else {
        return Some(format!("no `pub mod {module};` in src/lib.rs"));
    };
    if file == "index.html" {
        return (!fragment.is_empty()).then(|| format!("#{fragment} on a module's page"));
    }
    let Some((kind, name)) = file.strip_suffix(".html").and_then(|f| f.split_once('.')) else {
        return Some(format!("{file}: not a rustdoc page name"));
    };
    let keyword = match kind {
        "struct" | "enum" | "trait" | "type" | "fn" => kind,
        "constant" => "const",
        "macro" => "macro_rules!",
        _ => return Some(format!("{kind}: not a kind of item kalloc documents")),
    };
    let found = if keyword == "macro_rules!" {
        // `#[macro_export]` macros are documented at the crate root, from
        // whichever file defines them.
        let mut files = Vec::new();
        rust_files(&root().join("src"), &mut files);
        module.is_empty()
            && files.iter().any(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                defines(&text, keyword, name) && text.contains("#[macro_export]")
            })
    } else {
        defines(&sources, keyword, name)
    };
    if !found {
        return Some(format!(
            "no `{keyword} {name}` in the sources of `{module}`"
        ));
    }
    match fragment.split_once('.') {
        None if fragment.is_empty() => None,
        Some(("method", method)) if defines(&sources, "fn", method) => None,
        Some(("method", method)) => Some(format!("no `pub fn {method}` in `{module}`")),
        _ => Some(format!("#{fragment}: not a method")),
    }
}

#[test]
fn every_link_into_make_doc_names_an_item() {
    let mut count = 0;
    for (page, text) in pages() {
        for target in link_targets(&text) {
            let Some(i) = target.find(RUSTDOC) else {
                continue;
            };
            count += 1;
            if let Some(problem) = rustdoc_problem(&target[i + RUSTDOC.len()..]) {
                panic!("{}: link {target}: {problem}", page.display());
            }
        }
    }
    assert!(count > 0, "the README links into make doc's output");
}

/// The anchor GitHub gives a Markdown heading: lower case, spaces as `-`,
/// other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_link_to_the_tree_finds_its_file_and_heading() {
    for (page, text) in pages() {
        for target in link_targets(&text) {
            if target.contains("://") || target.contains(RUSTDOC) {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            assert!(
                path.exists(),
                "{}: link {target}: no such file",
                page.display()
            );
            if fragment.is_empty() {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let found = text
                .lines()
                .filter_map(|l| l.strip_prefix('#'))
                .map(|l| l.trim_start_matches('#'))
                .any(|h| anchor(h) == fragment);
            assert!(found, "{}: link {target}: no such heading", page.display());
        }
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

#[test]
fn a_wrong_link_is_found_out() {
    assert_eq!(
        link_targets("[a](x.md) and [`b`](y.md#z), not (c)"),
        ["x.md", "y.md#z"]
    );
    assert!(rustdoc_problem("gfp/struct.Gfp.html#method.zone").is_none());
    assert!(rustdoc_problem("kmalloc/struct.KmallocBox.html").is_none());
    assert!(rustdoc_problem("macro.kasprintf.html").is_none());
    assert!(rustdoc_problem("type.VVec.html").is_none());
    assert!(rustdoc_problem("gfp/struct.Gfp.html#method.no_such_method").is_some());
    assert!(rustdoc_problem("gfp/struct.Gf.html").is_some());
    assert!(rustdoc_problem("kmalloc/struct.Gfp.html").is_some());
    assert!(
        rustdoc_problem("context/index.html").is_some(),
        "a private module"
    );
    assert!(rustdoc_problem("gfp/macro.kasprintf.html").is_some());
    assert_eq!(
        anchor("Your module in kalloc's VM"),
        "your-module-in-kallocs-vm"
    );
    assert_eq!(anchor(" Load/unload cycles"), "loadunload-cycles");
}
