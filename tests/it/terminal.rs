//! What a province office and a statistician read on the terminal after `ingest` and
//! `validate`, pinned by snapshots (insta, `tests/it/snapshots/`) on small generated
//! multi-province submissions, clean and with planted faults; and that `validate` checks what
//! ingest checks while writing nothing anywhere. Re-pin on purpose with `INSTA_UPDATE=always
//! cargo test --test it terminal` and review the diff.

use std::path::Path;
use std::process::{Command, Output};

use povcensus::generator::{self, GenerateOptions};
use povcensus::ingest::report::IngestReport;

use crate::generate::all_files;

/// Generate provinces at a small scale (seeded: the same bytes every time) into `dir/name`.
fn submissions(dir: &Path, name: &str, provinces: &[&str], errors: f64) {
    let mut o = GenerateOptions::new(dir.join(name));
    o.scale = 0.0005;
    o.provinces = Some(provinces.iter().map(|p| p.to_string()).collect());
    o.error_rate = errors;
    generator::generate(&o).unwrap();
    // The ground truth is for the generator's tests, not part of a submission.
    let truth = dir.join(name).join("ground_truth");
    if truth.is_dir() {
        std::fs::remove_dir_all(truth).unwrap();
    }
}

/// `povcensus ARGS` run in `dir` (paths relative to it), its scratch under `tmp`.
fn run_in(dir: &Path, tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .current_dir(dir)
        .args(args)
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn")
        .env_remove("POVCENSUS_FAILPOINT")
        .output()
        .unwrap()
}

/// Exit status, stdout and stderr, as a snapshot shows them.
fn shown(o: &Output) -> String {
    format!(
        "exit status: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn report_of(o: &Output) -> IngestReport {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

fn empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).unwrap().next().is_none()
}

#[test]
fn ingest_report_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    submissions(d, "clean", &["45", "52", "53"], 0.0);
    submissions(d, "broken", &["45", "52"], 0.01);

    let clean = run_in(d, &tmp, &["ingest", "clean", "--warehouse", "wh-clean"]);
    assert_eq!(clean.status.code(), Some(0), "{}", shown(&clean));
    let text = String::from_utf8_lossy(&clean.stdout);
    assert!(
        !text.contains("FROM rejects"),
        "no rejects hint on a clean run"
    );
    assert!(
        text.contains("povcensus report"),
        "points to the quality reports"
    );
    insta::assert_snapshot!("ingest_clean", shown(&clean));

    // Again: nothing changed, no new snapshot.
    let again = run_in(d, &tmp, &["ingest", "clean", "--warehouse", "wh-clean"]);
    assert_eq!(again.status.code(), Some(0));
    insta::assert_snapshot!("ingest_unchanged", shown(&again));

    let broken = run_in(d, &tmp, &["ingest", "broken", "--warehouse", "wh-broken"]);
    assert_eq!(broken.status.code(), Some(1), "{}", shown(&broken));
    let text = String::from_utf8_lossy(&broken.stdout);
    assert!(
        text.contains("FROM rejects"),
        "the rejects hint when rows are rejected"
    );
    assert!(text.contains("贵州省") && text.contains("广西壮族自治区"));
    // Every line of the findings fits a wide terminal: no 420-character line.
    for line in text.lines() {
        assert!(line.chars().count() < 220, "a long line: {line}");
    }
    insta::assert_snapshot!("ingest_broken", shown(&broken));
    assert!(empty_dir(&tmp), "staging removed");
}

#[test]
fn validate_checks_what_ingest_checks_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    submissions(d, "clean", &["45", "52", "53"], 0.0);
    submissions(d, "broken", &["45", "52"], 0.01);
    let before = all_files(d);

    // No warehouse: nothing is created anywhere (scratch under TMPDIR, removed).
    let ok = run_in(d, &tmp, &["validate", "clean"]);
    assert_eq!(ok.status.code(), Some(0), "{}", shown(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("全部通过"));
    insta::assert_snapshot!("validate_clean", shown(&ok));
    let bad = run_in(d, &tmp, &["validate", "broken/45", "broken/52"]);
    assert_eq!(bad.status.code(), Some(1), "{}", shown(&bad));
    insta::assert_snapshot!("validate_broken", shown(&bad));
    assert_eq!(all_files(d), before, "validate wrote something");
    assert!(empty_dir(&tmp), "the scratch directory is removed");

    // The same counts and findings as an ingest of the same submissions.
    let v = report_of(&run_in(d, &tmp, &["validate", "--json", "broken"]));
    let i = report_of(&run_in(
        d,
        &tmp,
        &["ingest", "--json", "broken", "--warehouse", "wh-broken"],
    ));
    assert!(v.validate_only && !i.validate_only);
    // --rejects: the one file validate writes, every finding an ingest stores.
    let listed = run_in(d, &tmp, &["validate", "broken", "--rejects", "rejects.csv"]);
    assert_eq!(listed.status.code(), Some(1));
    let csv_text = std::fs::read_to_string(d.join("rejects.csv")).unwrap();
    assert!(csv_text.starts_with('\u{feff}'), "a BOM for Excel");
    let stored = crate::ingest::sql(
        d.join("wh-broken").to_str().unwrap(),
        "SELECT COUNT(*) AS n FROM rejects",
        &[],
        &[],
    );
    let stored: usize = stored.lines().nth(1).unwrap().parse().unwrap();
    let mut r = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(r.records().count(), stored, "one CSV row per stored reject");
    assert_eq!(v.provinces.len(), i.provinces.len());
    for (a, b) in v.provinces.iter().zip(&i.provinces) {
        assert_eq!(a.files, b.files, "{}", a.province_code);
        assert_eq!(a.rules, b.rules, "{}", a.province_code);
        assert_eq!(a.problems, b.problems, "{}", a.province_code);
        assert_eq!(
            (
                a.rows_read,
                a.rows_loaded,
                a.rows_rejected,
                a.resubmission_required
            ),
            (
                b.rows_read,
                b.rows_loaded,
                b.rows_rejected,
                b.resubmission_required
            )
        );
    }
    // An ingest's JSON has no validate_only field: unchanged for machines.
    let ingest_json = run_in(
        d,
        &tmp,
        &["ingest", "--json", "clean", "--warehouse", "wh-clean"],
    );
    assert!(!String::from_utf8_lossy(&ingest_json.stdout).contains("validate_only"));

    // Against a warehouse: cross-row rules and duplicates see its other provinces, and not
    // one byte of it changes.
    let wh_before = all_files(&d.join("wh-clean"));
    let against = run_in(
        d,
        &tmp,
        &["validate", "--json", "broken/52", "--warehouse", "wh-clean"],
    );
    let against_text = run_in(
        d,
        &tmp,
        &["validate", "broken/52", "--warehouse", "wh-clean"],
    );
    assert_eq!(against_text.status.code(), Some(1));
    assert_eq!(
        all_files(&d.join("wh-clean")),
        wh_before,
        "the warehouse changed"
    );
    let copy = d.join("wh-copy");
    crate::support::copy_dir(&d.join("wh-clean"), &copy);
    let loaded = report_of(&run_in(
        d,
        &tmp,
        &["ingest", "--json", "broken/52", "--warehouse", "wh-copy"],
    ));
    let checked = report_of(&against);
    assert_eq!(checked.provinces[0].files, loaded.provinces[0].files);
    assert_eq!(checked.provinces[0].rules, loaded.provinces[0].rules);
    assert!(empty_dir(&tmp), "the scratch directory is removed");

    // A warehouse that does not exist is not created: exit 2.
    let missing = run_in(d, &tmp, &["validate", "clean", "--warehouse", "no-such-wh"]);
    assert_eq!(missing.status.code(), Some(2), "{}", shown(&missing));
    assert!(!d.join("no-such-wh").exists());
    // A missing submission: exit 2.
    let none = run_in(d, &tmp, &["validate", "no/such/submission"]);
    assert_eq!(none.status.code(), Some(2), "{}", shown(&none));
}

#[test]
fn validate_finds_duplicates_against_the_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    submissions(d, "clean", &["45", "52"], 0.0);
    let o = run_in(d, &tmp, &["ingest", "clean/45", "--warehouse", "wh"]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    // Province 52 with a person of province 45 (all of the row but the household): the
    // person's ID number is a duplicate only of a record in the warehouse.
    let mut r = csv::Reader::from_path(d.join("clean/45/persons.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let first: Vec<String> = r
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    let household = headers.iter().position(|h| h == "household_id").unwrap();
    let dup = d.join("dup/52");
    crate::support::copy_dir(&d.join("clean/52"), &dup);
    // The last row: a file whose first record is of another province is rejected whole.
    crate::support::edit_submission_file(&dup, "persons.csv", |_, mut rows| {
        let last = rows.last_mut().unwrap();
        for (i, v) in first.iter().enumerate() {
            if i != household {
                last[i] = v.clone();
            }
        }
        rows
    });
    let wh_before = all_files(&d.join("wh"));
    let against = report_of(&run_in(
        d,
        &tmp,
        &["validate", "--json", "dup/52", "--warehouse", "wh"],
    ));
    assert_eq!(
        against.provinces[0].rules.get("key.duplicate"),
        Some(&1),
        "{:?}",
        against.provinces[0].rules
    );
    assert_eq!(all_files(&d.join("wh")), wh_before, "the warehouse changed");
    let alone = report_of(&run_in(d, &tmp, &["validate", "--json", "dup/52"]));
    assert_eq!(alone.provinces[0].rules.get("key.duplicate"), None);
    assert!(empty_dir(&tmp), "the scratch directory is removed");
}
