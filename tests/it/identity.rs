//! What the committed sample gives, to the byte: the pipeline tables and the documents of
//! `report` over `sample-data/` are pinned by their SHA-256 in `tests/fixtures/sample_outputs.sha256`.
//! The research extract of the sample under a fixed key (Parquet, CSV, risk report, published
//! tables) is pinned the same way in `tests/fixtures/sample_extract.sha256`.
//! A change of structure must leave them as they are; a change of content re-pins them on
//! purpose (`POVCENSUS_BLESS=1 cargo test --test it identity`) and the diff shows which.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ingest::ingest_sample;
use crate::support::files_below;

fn pinned(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn sample_outputs_are_byte_identical_to_the_pinned_ones() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("reports");
    let o = crate::matrix::report_into(
        &wh,
        &out,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<String> = files_below(&out)
        .into_iter()
        // The run manifests record where the SQL came from, not what was computed.
        .filter(|p| p.file_name().is_some_and(|n| n != "run_manifest.json"))
        .map(|p| {
            let rel = p.strip_prefix(&out).unwrap().display().to_string();
            let mut bytes = std::fs::read(&p).unwrap();
            // The index names the warehouse it was made from: a temporary path here.
            if rel == "index.html" {
                let text = String::from_utf8(bytes).unwrap();
                bytes = text.replace(wh.as_str(), "WH").into_bytes();
            }
            let hash = hex::encode(Sha256::digest(&bytes));
            format!("{hash}  {rel}")
        })
        .collect();
    compare_with_pinned(lines, "sample_outputs.sha256");
}

#[test]
fn sample_extract_is_byte_identical_to_the_pinned_one() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "a fixed key for the pinned sample extract\n").unwrap();
    let out = dir.path().join("extract");
    let o = crate::extract::extract(&wh, &out, &key);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<String> = files_below(&out)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&out).unwrap().display().to_string();
            let hash = hex::encode(Sha256::digest(std::fs::read(&p).unwrap()));
            format!("{hash}  {rel}")
        })
        .collect();
    compare_with_pinned(lines, "sample_extract.sha256");
}

/// `lines` (`<sha256>  <file>`), sorted by file, against the pinned list `name` (or written to
/// it with `POVCENSUS_BLESS`).
fn compare_with_pinned(mut lines: Vec<String>, name: &str) {
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    let got = lines.join("\n") + "\n";
    if std::env::var_os("POVCENSUS_BLESS").is_some() {
        std::fs::write(pinned(name), &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(pinned(name)).unwrap_or_default();
    if got != want {
        let changed: Vec<&str> = got
            .lines()
            .filter(|l| !want.lines().any(|w| w == *l))
            .collect();
        panic!(
            "the sample's outputs changed ({} files, {name}): {changed:#?}\n\
             re-pin on purpose with POVCENSUS_BLESS=1 cargo test --test it identity",
            changed.len()
        );
    }
}
