//! The shape of src/, enforced: layers only point down, no module cycle,
//! HTTP only in `http`, no function over 80 lines, no file over 600.
//!
//! The layers, bottom to top (a module may use its own layer or lower):
//!
//! | rank | modules |
//! |---|---|
//! | 0 | `util`, `keys` |
//! | 1 | `domain` |
//! | 2 | `config` |
//! | 3 | `infrastructure` |
//! | 4 | `services` |
//! | 5 | `http` |
//!
//! `lib.rs` composes them and `main.rs` is the CLI; `testing` is unit-test
//! support. Within a layer, the modules one level down (for example
//! `services::signin` and `services::grants`) must not form a cycle either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] =
    &[("util", 0), ("keys", 0), ("domain", 1), ("config", 2), ("infrastructure", 3), ("services", 4), ("http", 5)];

/// Crates and types only the `http` layer (and the composition root) may name.
const HTTP_ONLY: &[&str] = &["axum", "tower", "tower_http", "tower_sessions", "minijinja", "HeaderMap", "StatusCode"];

const MAX_FN_LINES: usize = 80;
const MAX_FILE_LINES: usize = 600;

fn rank(top: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == top).map(|(_, r)| *r)
}

/// One source file: its module path (`["services", "signin", "begin"]`) and
/// its code with comments and literals blanked out.
struct Source {
    path: PathBuf,
    module: Vec<String>,
    code: String,
}

fn sources(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).expect("below src/").with_extension("");
                let mut module: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if module.last().is_some_and(|m| m == "mod") {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                let path = path.strip_prefix(root.parent().unwrap_or(root)).unwrap_or(&path).to_path_buf();
                out.push(Source { path, module, code: strip(&text) });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Blank out comments, string and char literals, keeping line breaks.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |s: &[u8], out: &mut String| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
            blank(&b[i..end], &mut out);
            i = end;
        } else if rest.starts_with(b"/*") {
            let end = find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2);
            blank(&b[i..end], &mut out);
            i = end;
        } else if let Some(len) = raw_string_len(b, i) {
            out.push_str("\"\"");
            blank(&b[i + 2.min(len)..i + len], &mut out);
            i += len;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            out.push_str("\"\"");
            blank(&b[(i + 2).min(end)..end], &mut out);
            i = end;
        } else if let Some(len) = char_literal_len(b, i) {
            blank(&b[i..i + len], &mut out);
            i += len;
        } else {
            let ch = text[i..].chars().next().expect("a character");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    (from..b.len().saturating_sub(needle.len() - 1)).find(|&p| b[p..].starts_with(needle))
}

/// `r"…"`, `r#"…"#`, `br"…"`: the literal's length in bytes.
fn raw_string_len(b: &[u8], i: usize) -> Option<usize> {
    let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let start = if b[i..].starts_with(b"br") {
        i + 2
    } else if b[i] == b'r' {
        i + 1
    } else {
        return None;
    };
    if ident_before {
        return None;
    }
    let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
    if b.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let end = find(b, start + hashes + 1, &close).map_or(b.len(), |p| p + close.len());
    Some(end - i)
}

/// `'a'`, `'\n'`, `'\''`, `'\u{1F600}'`, but not a lifetime `'a`.
fn char_literal_len(b: &[u8], i: usize) -> Option<usize> {
    if b[i] != b'\'' {
        return None;
    }
    if b.get(i + 1) == Some(&b'\\') {
        let close = b[i + 2..].iter().take(10).position(|&c| c == b'\'')?;
        return Some(close + 3);
    }
    let ch_len = std::str::from_utf8(&b[i + 1..(i + 5).min(b.len())])
        .ok()
        .or_else(|| std::str::from_utf8(&b[i + 1..(i + 2).min(b.len())]).ok())
        .and_then(|s| s.chars().next())
        .map(char::len_utf8)?;
    (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(ch_len + 2)
}

/// The code without its `#[cfg(test)]` modules (tests may reach anywhere).
fn without_tests(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let Some(open) = out[at..].find('{').map(|p| at + p) else { break };
        let end = matching_brace(&out, open).unwrap_or(out.len() - 1);
        let blanked: String = out[at..=end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
        out.replace_range(at..=end, &blanked);
    }
    out
}

fn matching_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The crate-internal module paths a file refers to, absolute
/// (`["services", "signin", …]`), from `crate::…` paths, `use crate::{…}`
/// groups and `super::…` paths.
fn references(source: &Source) -> BTreeSet<Vec<String>> {
    let code = without_tests(&source.code);
    let mut refs = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == '}' || c == ','))
        .filter(|w| w.contains("crate::") || w.contains("super::"))
        .collect();
    for word in words {
        for start in ["crate::", "super::"] {
            let mut rest = word;
            while let Some(at) = rest.find(start) {
                let tail = &rest[at..];
                expand(tail, &source.module, &mut refs);
                rest = &rest[at + start.len()..];
            }
        }
    }
    refs
}

/// `crate::a::{b, c::d}` or `super::super::x`: each path, absolute.
fn expand(path: &str, module: &[String], refs: &mut BTreeSet<Vec<String>>) {
    let mut segments: Vec<String> = Vec::new();
    let mut base: Vec<String> = Vec::new();
    let mut parts = path.split("::").peekable();
    while let Some(part) = parts.next() {
        match part {
            "crate" => base.clear(),
            "super" => {
                if base.is_empty() && segments.is_empty() {
                    base = module[..module.len().saturating_sub(1)].to_vec();
                } else {
                    base.pop();
                }
            }
            p if p.starts_with('{') => {
                for inner in p.trim_matches(|c| c == '{' || c == '}').split(',') {
                    let name = inner.trim().trim_matches(|c| c == '{' || c == '}');
                    if !name.is_empty() && name != "self" {
                        let mut full = base.clone();
                        full.extend(segments.iter().cloned());
                        full.push(name.to_string());
                        refs.insert(full);
                    }
                }
                return;
            }
            p => segments.push(p.trim_matches(|c| c == '}' || c == ',').to_string()),
        }
        let _ = parts.peek();
    }
    let mut full = base;
    full.extend(segments.into_iter().filter(|s| !s.is_empty()));
    refs.insert(full);
}

/// The layer-level and within-layer module of a reference that names a
/// known module: `(top, second)`.
fn locate(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<(String, Option<String>)> {
    let top = path.first()?;
    if !modules.iter().any(|m| m.first() == Some(top)) {
        return None;
    }
    let second = path.get(1).filter(|s| modules.contains(&vec![top.clone(), (*s).clone()])).cloned();
    Some((top.clone(), second))
}

struct Findings {
    upward: Vec<String>,
    http_outside: Vec<String>,
    app_state_outside: Vec<String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn analyse(files: &[Source]) -> Findings {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|s| s.module.clone()).collect();
    let mut f = Findings { upward: vec![], http_outside: vec![], app_state_outside: vec![], edges: BTreeMap::new() };
    for source in files {
        let Some(top) = source.module.first().cloned() else { continue };
        let Some(my_rank) = rank(&top) else { continue };
        let me = source.module.iter().take(2).cloned().collect::<Vec<_>>().join("::");
        let code = without_tests(&source.code);
        for path in references(source) {
            if path.first().is_some_and(|p| p == "AppState" || p == "Inner") && top != "http" {
                f.app_state_outside.push(format!("{} names crate::{}", source.path.display(), path.join("::")));
            }
            let Some((target_top, second)) = locate(&path, &modules) else { continue };
            let Some(target_rank) = rank(&target_top) else { continue };
            if target_rank > my_rank {
                f.upward.push(format!("{} uses crate::{}", source.path.display(), path.join("::")));
            }
            let target = match second {
                Some(s) => format!("{target_top}::{s}"),
                None => target_top.clone(),
            };
            if target != me && target_top == top {
                f.edges.entry(me.clone()).or_default().insert(target);
            }
        }
        if top != "http" {
            for name in HTTP_ONLY {
                if mentions(&code, name) {
                    f.http_outside.push(format!("{} names {name}", source.path.display()));
                }
            }
        }
    }
    f
}

/// Whether `code` names the identifier `name` (as a path segment).
fn mentions(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Every cycle's members (strongly connected components of two or more).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flatten()).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        if !reachable[n].contains(*n) || out.iter().any(|c| c.contains(n)) {
            continue;
        }
        let members = nodes.iter().filter(|m| reachable[n].contains(**m) && reachable[*m].contains(*n));
        out.push(members.map(|m| (*m).clone()).collect());
    }
    out
}

/// Functions longer than the limit: `(file, name, lines)`.
fn long_functions(source: &Source) -> Vec<(String, String, usize)> {
    let code = &source.code;
    let mut out = Vec::new();
    for (at, _) in code.match_indices("fn ") {
        if code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = code[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        // The body starts at the first `{` before any `;` (a declaration
        // without a body has none).
        let after = &code[at..];
        let (Some(open), semi) = (after.find('{'), after.find(';')) else { continue };
        if semi.is_some_and(|s| s < open) {
            continue;
        }
        let Some(close) = matching_brace(code, at + open) else { continue };
        let lines = code[at..=close].lines().count();
        if lines > MAX_FN_LINES {
            out.push((source.path.display().to_string(), name, lines));
        }
    }
    out
}

fn src() -> Vec<Source> {
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn layers_only_point_down() {
    let f = analyse(&src());
    assert!(f.upward.is_empty(), "imports that point up a layer:\n{}", f.upward.join("\n"));
}

#[test]
fn no_cycle_between_modules() {
    let files = src();
    let f = analyse(&files);
    let found = cycles(&f.edges);
    assert!(found.is_empty(), "module cycles within a layer: {found:?}");
    // Between layers a cycle would need an upward edge, refused above; the
    // edges checked here are the ones within each layer.
    assert!(f.edges.len() > 5, "the analysis sees the modules: {:?}", f.edges.keys().collect::<Vec<_>>());
}

#[test]
fn only_http_knows_http() {
    let f = analyse(&src());
    assert!(f.http_outside.is_empty(), "HTTP outside the http layer:\n{}", f.http_outside.join("\n"));
    assert!(f.app_state_outside.is_empty(), "AppState outside the http layer:\n{}", f.app_state_outside.join("\n"));
}

#[test]
fn functions_and_files_stay_small() {
    let files = src();
    let long: Vec<_> = files.iter().flat_map(long_functions).collect();
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines: {long:?}");
    let big: Vec<_> = files
        .iter()
        .map(|s| (s.path.display().to_string(), s.code.lines().count()))
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .collect();
    assert!(big.is_empty(), "files over {MAX_FILE_LINES} lines: {big:?}");
}

/// The checks themselves, on planted examples: each must catch what it is for.
#[test]
fn the_checks_catch_what_they_are_for() {
    let file = |path: &str, code: &str| {
        let module: Vec<String> = path.trim_end_matches(".rs").split('/').map(String::from).collect();
        let module =
            if module.last().is_some_and(|m| m == "mod") { module[..module.len() - 1].to_vec() } else { module };
        Source { path: PathBuf::from(path), module, code: strip(code) }
    };
    let planted = vec![
        file("domain/mod.rs", "pub mod a;"),
        file("domain/a.rs", "use crate::services::b::Thing;\n// crate::http::x in a comment\nlet s = \"crate::http\";"),
        file("services/mod.rs", "pub mod b; pub mod c;"),
        file("services/b.rs", "use super::c;\nfn f(h: axum::http::HeaderMap) {}"),
        file("services/c.rs", "use crate::services::{b::Thing, x};\nfn g(app: &crate::AppState) {}"),
        file("http/mod.rs", "use crate::services::b;"),
    ];
    let f = analyse(&planted);
    assert_eq!(f.upward, vec!["domain/a.rs uses crate::services::b::Thing"]);
    assert_eq!(cycles(&f.edges), vec![vec!["services::b".to_string(), "services::c".to_string()]]);
    assert_eq!(f.http_outside, vec!["services/b.rs names axum", "services/b.rs names HeaderMap"]);
    assert_eq!(f.app_state_outside, vec!["services/c.rs names crate::AppState"]);
    let body = format!("fn long() {{\n{}}}\nfn short() {{ let c = '}}'; }}\n", "    x();\n".repeat(MAX_FN_LINES));
    let long = long_functions(&file("util/x.rs", &body));
    assert_eq!(long.iter().map(|(_, n, _)| n.as_str()).collect::<Vec<_>>(), vec!["long"]);
    let tests_only = file("domain/t.rs", "#[cfg(test)]\nmod tests { use crate::http::x; }\n");
    assert!(analyse(&[tests_only]).upward.is_empty(), "unit tests may reach any layer");
}
