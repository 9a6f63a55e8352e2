//! The floor plan of `src/` (see `lib.rs`): contract → engine → stages → face. No module
//! imports from a floor above its own, and no function is longer than a hundred lines without a
//! reason written above it (`// Long: …`).

use std::path::Path;

use crate::support::files_below;

/// The floor of each top-level module of the library.
fn floor(module: &str) -> Option<u8> {
    Some(match module {
        "contract" => 0,
        "engine" | "render" | "output" => 1,
        "generator" | "ingest" | "warehouse" | "comparison" | "pipeline" | "assessment"
        | "report" | "extract" | "server" | "console" | "node" => 2,
        "cli" => 3,
        _ => return None,
    })
}

#[test]
fn no_module_imports_from_a_floor_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    for file in files_below(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        if rel.extension().is_none_or(|e| e != "rs")
            || rel.parent() == Some(Path::new(""))
                && (rel == Path::new("lib.rs") || rel == Path::new("main.rs"))
        {
            continue;
        }
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs");
        let own = floor(top)
            .unwrap_or_else(|| panic!("{} has no floor: add it here and to lib.rs", rel.display()));
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let other = floor(&name).unwrap_or_else(|| {
                    panic!("{}:{}: `crate::{name}` has no floor", rel.display(), n + 1)
                });
                if other > own {
                    upward.push(format!(
                        "{}:{}: {top} (floor {own}) imports {name} (floor {other})",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run upward:\n{}",
        upward.join("\n")
    );
}

/// Code with string and character literals and line comments blanked, so that braces count.
fn code_only(line: &str, in_raw: &mut bool) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if *in_raw {
            if c == '"' && chars.peek() == Some(&'#') {
                chars.next();
                *in_raw = false;
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            'r' if chars.peek() == Some(&'#') => {
                chars.next();
                if chars.peek() == Some(&'"') {
                    chars.next();
                    *in_raw = true;
                }
            }
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A character literal ('{', '\'') or a lifetime ('a): skip the literal only.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    chars.nth(2);
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Functions of `src/` longer than `limit` lines (from `fn` to its closing brace) that have
/// no `// Long:` reason on the lines just above them.
fn long_functions(limit: usize) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for file in files_below(&src) {
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut in_raw = false;
        let code: Vec<String> = lines.iter().map(|l| code_only(l, &mut in_raw)).collect();
        for (i, line) in code.iter().enumerate() {
            let t = line.trim_start();
            let is_fn = t.starts_with("fn ")
                || [
                    "pub ",
                    "pub(crate) ",
                    "pub(super) ",
                    "async ",
                    "const ",
                    "unsafe ",
                ]
                .iter()
                .any(|p| t.starts_with(p) && t.contains("fn "));
            if !is_fn {
                continue;
            }
            let (mut depth, mut opened, mut end) = (0i64, false, None);
            for (j, l) in code.iter().enumerate().skip(i) {
                for c in l.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if opened && depth <= 0 {
                    end = Some(j);
                    break;
                }
                if !opened && l.trim_end().ends_with(';') {
                    break;
                }
            }
            let Some(end) = end else { continue };
            let reason = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    let l = l.trim_start();
                    l.starts_with("//") || l.starts_with("#[")
                })
                .any(|l| l.trim_start().starts_with("// Long:"));
            if end - i + 1 > limit && !reason {
                let rel = file.strip_prefix(&src).unwrap().display().to_string();
                long.push(format!("src/{rel}:{}: {} lines", i + 1, end - i + 1));
            }
        }
    }
    long.sort();
    long
}

#[test]
fn no_function_over_a_hundred_lines_without_a_reason() {
    let long = long_functions(100);
    assert!(
        long.is_empty(),
        "functions over 100 lines: split them into named phases, or write the reason in a \
         `// Long:` comment above them:\n{}",
        long.join("\n")
    );
}
