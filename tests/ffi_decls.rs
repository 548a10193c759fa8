//! Every C function kalloc's Rust declares (`src/ffi.rs`,
//! `src/selftest/ffi.rs`) against its C prototype (`src/shims.c`,
//! `src/selftest/shims.c`): the same functions on both sides, with the same
//! number of parameters, of the same types in the same order, and the same
//! return type. Nothing else checks Rust's `extern "C"` declarations against
//! the C, and a mismatch is undefined behaviour, not a build error.

use std::collections::BTreeMap;
use std::path::Path;

/// A function's parameter types and its return type (`""` for none).
type Signature = (Vec<String>, String);

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Collapses white space.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `s` at the commas outside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let (mut parts, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(squash(&cur));
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        parts.push(squash(&cur));
    }
    parts
}

/// The C type of a parameter declaration (`const struct page *page` →
/// `const struct page *`); function pointers keep their whole type.
fn c_param_type(param: &str) -> String {
    if param.contains('(') {
        // `int (*work)(void *data, unsigned int cpu)`: names dropped.
        let (ret, rest) = param.split_once("(*").unwrap();
        let args = rest.split_once(")(").unwrap().1.trim_end_matches(')');
        let args: Vec<String> = split_top(args).iter().map(|a| c_param_type(a)).collect();
        return format!("{} (*)({})", ret.trim(), args.join(", "));
    }
    let p = squash(param);
    let cut = p.rfind(|c: char| c == ' ' || c == '*').unwrap();
    squash(p[..=cut].trim())
}

/// The prototypes `kalloc_*(...);` of a C file.
fn c_prototypes(text: &str) -> BTreeMap<String, Signature> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(open) = line.find("kalloc_") else {
            continue;
        };
        if !line.ends_with(");") || line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        let Some(paren) = line[open..].find('(').map(|p| p + open) else {
            continue;
        };
        let ret = squash(&line[..open]);
        let name = line[open..paren].to_string();
        let params = &line[paren + 1..line.len() - 2];
        let params = if params.trim() == "void" {
            Vec::new()
        } else {
            split_top(params).iter().map(|p| c_param_type(p)).collect()
        };
        out.insert(
            name,
            (params, if ret == "void" { String::new() } else { ret }),
        );
    }
    out
}

/// The `fn kalloc_*(...) -> T;` declarations of a Rust file.
fn rust_declarations(text: &str) -> BTreeMap<String, Signature> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some(at) = rest.find("fn kalloc_") {
        let decl = &rest[at + 3..];
        let paren = decl.find('(').unwrap();
        let name = decl[..paren].to_string();
        // The matching `)` of the parameter list.
        let (mut depth, mut close) = (0, 0);
        for (i, ch) in decl[paren..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = paren + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = decl[close..].find([';', '{']).unwrap() + close;
        rest = &decl[end..];
        if decl.as_bytes()[end] == b'{' {
            continue; // a Rust function, not a declaration
        }
        let params = split_top(&decl[paren + 1..close])
            .iter()
            .map(|p| squash(p.split_once(':').unwrap().1))
            .collect();
        let ret = decl[close + 1..end].trim().trim_start_matches("->").trim();
        out.insert(name, (params, squash(ret)));
    }
    out
}

/// The Rust type that matches the C type `c`.
fn rust_type(c: &str) -> String {
    let known = [
        ("bool", "bool"),
        ("int", "c_int"),
        ("unsigned int", "c_uint"),
        ("unsigned long", "c_ulong"),
        ("size_t", "usize"),
        ("ssize_t", "isize"),
        ("u32", "u32"),
        ("u64", "u64"),
        ("gfp_t", "bindings::gfp_t"),
        ("enum zone_type", "bindings::zone_type"),
        ("dma_addr_t", "bindings::dma_addr_t"),
        ("mempool_alloc_t *", "bindings::mempool_alloc_t"),
        ("mempool_free_t *", "bindings::mempool_free_t"),
        ("kmem_buckets *", "*mut bindings::kmem_buckets"),
        ("enum dma_data_direction", "bindings::dma_data_direction"),
        ("void *", "*mut c_void"),
        // A per-CPU address (`__percpu` marks its address space for sparse).
        ("void __percpu *", "*mut c_void"),
        ("const void *", "*const c_void"),
        ("void **", "*mut *mut c_void"),
        ("const char *", "*const c_char"),
        ("char *", "*mut u8"),
        ("unsigned long *", "*mut c_ulong"),
        ("async_func_t", "unsafe extern \"C\" fn(*mut c_void, u64)"),
        (
            "cpu_stop_fn_t",
            "unsafe extern \"C\" fn(*mut c_void) -> c_int",
        ),
        (
            "int (*)(void *, unsigned int)",
            "unsafe extern \"C\" fn(*mut c_void, c_uint) -> c_int",
        ),
        ("void (*)(void *)", "unsafe extern \"C\" fn(*mut c_void)"),
    ];
    if let Some((_, r)) = known.iter().find(|(k, _)| *k == c) {
        return (*r).to_string();
    }
    if let Some(s) = c
        .strip_prefix("const struct ")
        .and_then(|s| s.strip_suffix(" *"))
    {
        return format!("*const bindings::{s}");
    }
    if let Some(s) = c.strip_prefix("struct ").and_then(|s| s.strip_suffix(" *")) {
        return format!("*mut bindings::{s}");
    }
    format!("<no Rust type known for `{c}`>")
}

/// The Rust type `r` as this check spells it (`kernel::ffi::c_uint` →
/// `c_uint`).
fn plain(r: &str) -> String {
    r.replace("kernel::ffi::", "")
        .replace(", ", ",")
        .replace(',', ", ")
}

#[test]
fn every_c_declaration_matches_its_c_prototype() {
    let pairs = [
        ("src/shims.c", "src/ffi.rs"),
        ("src/selftest/shims.c", "src/selftest/ffi.rs"),
    ];
    let mut problems = Vec::new();
    let mut checked = 0;
    for (c_file, rust_file) in pairs {
        let c = c_prototypes(&read(c_file));
        let rust = rust_declarations(&read(rust_file));
        assert!(
            c.len() >= 10 && rust.len() >= 10,
            "{c_file}: {c:?}, {rust_file}: {rust:?}"
        );
        for name in c.keys().filter(|n| !rust.contains_key(*n)) {
            problems.push(format!("{name}: in {c_file}, not declared in {rust_file}"));
        }
        for name in rust.keys().filter(|n| !c.contains_key(*n)) {
            problems.push(format!(
                "{name}: declared in {rust_file}, no prototype in {c_file}"
            ));
        }
        for (name, (c_params, c_ret)) in &c {
            let Some((r_params, r_ret)) = rust.get(name) else {
                continue;
            };
            checked += 1;
            let want: Vec<String> = c_params.iter().map(|t| rust_type(t)).collect();
            let got: Vec<String> = r_params.iter().map(|t| plain(t)).collect();
            if want != got {
                problems.push(format!(
                    "{name}: C takes ({}), Rust ({})",
                    want.join(", "),
                    got.join(", ")
                ));
            }
            let want_ret = if c_ret.is_empty() {
                String::new()
            } else {
                rust_type(c_ret)
            };
            if want_ret != plain(r_ret) {
                problems.push(format!(
                    "{name}: C returns `{want_ret}`, Rust `{}`",
                    plain(r_ret)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} functions checked");
}

#[test]
fn a_swapped_parameter_is_found() {
    let c = c_prototypes("void *kalloc_x(size_t size, gfp_t flags);\n");
    let rust = rust_declarations(
        "extern \"C\" {\n    fn kalloc_x(flags: bindings::gfp_t, size: usize) -> *mut c_void;\n}\n",
    );
    let (c_params, _) = &c["kalloc_x"];
    let want: Vec<String> = c_params.iter().map(|t| rust_type(t)).collect();
    assert_eq!(want, ["usize", "bindings::gfp_t"]);
    assert_eq!(rust["kalloc_x"].0, ["bindings::gfp_t", "usize"]);
    assert_ne!(want, rust["kalloc_x"].0);
}
