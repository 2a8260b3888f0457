//! The manual (`docs/`, an mdBook) and the README hold together: relative
//! links and their `#anchor`s resolve, `SUMMARY.md` and the pages agree,
//! included files exist, and the README stays a short landing page.
//!
//! Plain std: no mdBook needed to run it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The README is a landing page; everything else belongs in the manual.
const README_MAX_BYTES: u64 = 10 * 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs() -> PathBuf {
    root().join("docs")
}

/// Every `.md` file under `dir`, sorted.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The pages checked: every `.md` in `docs/`, and the README.
fn pages() -> Vec<PathBuf> {
    let mut pages = markdown_files(&docs());
    pages.push(root().join("README.md"));
    pages
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `path` relative to the repository, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// The lines of a Markdown text outside fenced code blocks, with their
/// line numbers (1-based).
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = if trimmed.starts_with("```") {
            Some("```")
        } else if trimmed.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(f), Some(m)) if f == m => fence = None,
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// `line` without its inline code spans (links in code are not links).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// The destinations of the inline links `[text](dest)` / `![alt](dest)`
/// and reference definitions `[label]: dest` of a page, with line numbers.
fn link_destinations(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            // A title (`dest "title"`) is not part of the destination.
            let dest = rest[..end].split_whitespace().next().unwrap_or("");
            let dest = dest.trim_start_matches('<').trim_end_matches('>');
            out.push((n, dest.to_string()));
            rest = &rest[end..];
        }
        let t = line.trim_start();
        if let (true, Some(i)) = (t.starts_with('['), t.find("]: ")) {
            if let Some(dest) = t[i + 3..].split_whitespace().next() {
                out.push((n, dest.to_string()));
            }
        }
    }
    out
}

fn is_external(dest: &str) -> bool {
    let lower = dest.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
}

/// mdBook's id for a heading: lower-case, whitespace becomes `-`, and only
/// alphanumerics, `-` and `_` are kept.
fn heading_id(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors a page's headings get, repeated ones numbered `-1`, `-2`…
/// as mdBook does.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = heading_id(line[hashes..].trim().trim_end_matches('#').trim());
        let mut id = base.clone();
        let mut n = 0;
        while ids.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        ids.insert(id);
    }
    ids
}

/// `base` joined with the relative `rel`, with `.` and `..` resolved.
fn resolve(base_dir: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base_dir.join(rel).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Every broken relative link or anchor among `pages`.
fn broken_links(pages: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for page in pages {
        let text = read(page);
        let dir = page.parent().unwrap();
        for (line, dest) in link_destinations(&text) {
            if dest.is_empty() {
                problems.push(format!("{}:{line}: empty link", shown(page)));
                continue;
            }
            if is_external(&dest) {
                continue;
            }
            let (path, anchor) = match dest.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (dest.as_str(), None),
            };
            let target = if path.is_empty() { page.clone() } else { resolve(dir, path) };
            if !target.exists() {
                problems.push(format!("{}:{line}: {dest}: no file {}", shown(page), shown(&target)));
                continue;
            }
            if let Some(anchor) = anchor {
                if target.extension().is_some_and(|e| e == "md") {
                    let ids = anchors(&read(&target));
                    if !ids.contains(anchor) {
                        problems.push(format!(
                            "{}:{line}: {dest}: no heading with id `{anchor}` in {}",
                            shown(page),
                            shown(&target)
                        ));
                    }
                } else {
                    problems
                        .push(format!("{}:{line}: {dest}: an anchor into a file that is not Markdown", shown(page)));
                }
            }
        }
    }
    problems
}

/// The files `SUMMARY.md` links to, relative to `docs/`.
fn summary_entries() -> Vec<String> {
    let summary = read(&docs().join("SUMMARY.md"));
    link_destinations(&summary)
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty() && !is_external(d))
        .map(|d| d.split('#').next().unwrap().to_string())
        .collect()
}

/// The files named by `{{#include FILE}}` (and the other mdBook file
/// directives) in a page, with line numbers; a `:anchor` or `:line` suffix
/// is not part of the file name.
fn includes(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("{{#") {
            let escaped = i > 0 && rest.as_bytes()[i - 1] == b'\\';
            rest = &rest[i + 3..];
            let end = rest.find("}}").unwrap_or(rest.len());
            let mut words = rest[..end].split_whitespace();
            let directive = words.next().unwrap_or("");
            if !escaped && matches!(directive, "include" | "rustdoc_include" | "playground" | "playpen") {
                let file = words.next().unwrap_or("");
                out.push((n + 1, file.split(':').next().unwrap().to_string()));
            }
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn relative_links_and_anchors_resolve() {
    let problems = broken_links(&pages());
    assert!(problems.is_empty(), "broken links:\n{}", problems.join("\n"));
}

#[test]
fn every_page_named_in_summary_exists() {
    let missing: Vec<String> = summary_entries().into_iter().filter(|e| !resolve(&docs(), e).is_file()).collect();
    assert!(missing.is_empty(), "SUMMARY.md names files that do not exist: {missing:?}");
}

#[test]
fn every_page_is_in_summary() {
    let listed: BTreeSet<PathBuf> = summary_entries().iter().map(|e| resolve(&docs(), e)).collect();
    let summary = docs().join("SUMMARY.md");
    let unlisted: Vec<String> = markdown_files(&docs())
        .into_iter()
        .filter(|p| *p != summary && !listed.contains(p))
        .map(|p| shown(&p))
        .collect();
    assert!(unlisted.is_empty(), "pages missing from docs/SUMMARY.md: {unlisted:?}");
}

#[test]
fn included_files_exist() {
    let mut problems = Vec::new();
    let mut count = 0;
    for page in pages() {
        for (line, file) in includes(&read(&page)) {
            count += 1;
            if file.is_empty() || !resolve(page.parent().unwrap(), &file).is_file() {
                problems.push(format!("{}:{line}: included file `{file}` does not exist", shown(&page)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The Auth0 page includes the fetchUserProfile script that tests/auth0.rs runs.
    assert!(count >= 1, "no include directive found: the Auth0 page should include its script");
}

#[test]
fn readme_is_a_landing_page() {
    let size = fs::metadata(root().join("README.md")).unwrap().len();
    assert!(
        size <= README_MAX_BYTES,
        "README.md is {size} bytes, more than {README_MAX_BYTES}: move the detail into docs/"
    );
}

#[test]
fn book_uses_this_directory_as_its_source() {
    // SUMMARY.md must sit in the book's source directory.
    let book = read(&docs().join("book.toml"));
    assert!(book.lines().any(|l| l.replace(' ', "") == "src=\".\""), "docs/book.toml should say src = \".\"");
}

// The checker itself: a broken link, a wrong anchor and a missing include
// must be reported, so that the tests above cannot pass by finding nothing.

#[test]
fn the_checker_reports_breakage() {
    let dir = std::env::temp_dir().join(format!("fedi-oidc-docs-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(
        dir.join("sub/target.md"),
        "# Title\n\n## Outbound safety (SSRF)\n\n## Front Channel (`id_token` by form_post)\n\n## Logs\n\n## Logs\n",
    )
    .unwrap();
    let page = dir.join("page.md");
    fs::write(
        &page,
        "[ok](sub/target.md) [ok](sub/target.md#outbound-safety-ssrf) \
         [ok](sub/target.md#front-channel-id_token-by-form_post) [ok](sub/target.md#logs-1) \
         [ok](#here) [ok](https://example.org/x.md) [ok](mailto:a@example.org)\n\n\
         ## Here\n\n`[not a link](nowhere.md)`\n\n```md\n[not a link](nowhere.md)\n```\n\n\
         [missing](sub/none.md)\n[bad anchor](sub/target.md#outbound-safety)\n[bad self](#there)\n\
         {{#include sub/none.js}}\n",
    )
    .unwrap();
    let problems = broken_links(std::slice::from_ref(&page));
    let includes = includes(&read(&page));
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("sub/none.md"), "{problems:#?}");
    assert!(problems[1].contains("outbound-safety`"), "{problems:#?}");
    assert!(problems[2].contains("#there"), "{problems:#?}");
    let files: Vec<&str> = includes.iter().map(|(_, f)| f.as_str()).collect();
    assert_eq!(files, ["sub/none.js"]);
}
