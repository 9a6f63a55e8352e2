//! What the committed sample gives, to the byte: the pipeline tables and the documents of
//! `report` over `sample-data/` are pinned by their SHA-256 in `tests/fixtures/sample_outputs.sha256`.
//! A change of structure must leave them as they are; a change of content re-pins them on
//! purpose (`POVCENSUS_BLESS=1 cargo test --test it identity`) and the diff shows which.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ingest::ingest_sample;
use crate::support::files_below;

fn pinned() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample_outputs.sha256")
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
    let mut lines: Vec<String> = files_below(&out)
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
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    let got = lines.join("\n") + "\n";
    if std::env::var_os("POVCENSUS_BLESS").is_some() {
        std::fs::write(pinned(), &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(pinned()).unwrap_or_default();
    if got != want {
        let changed: Vec<&str> = got
            .lines()
            .filter(|l| !want.lines().any(|w| w == *l))
            .collect();
        panic!(
            "the sample's outputs changed ({} files): {changed:#?}\n\
             re-pin on purpose with POVCENSUS_BLESS=1 cargo test --test it identity",
            changed.len()
        );
    }
}
