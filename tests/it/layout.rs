//! The floor plan of `src/` (see `lib.rs`): contract → engine → stages → face. No module
//! imports from a floor above its own.

use std::path::Path;

use crate::support::files_below;

/// The floor of each top-level module of the library.
fn floor(module: &str) -> Option<u8> {
    Some(match module {
        "contract" => 0,
        "engine" | "render" | "output" => 1,
        "generator" | "ingest" | "warehouse" | "pipeline" | "assessment" | "report" | "extract"
        | "server" | "console" => 2,
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
