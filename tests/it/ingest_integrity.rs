//! Issue 13 on the ingest side: no panic, no half-written output, nothing confidential left
//! behind. Each test plants one fault in a hand-made or generated submission and checks the
//! real outcome (exit status, report, rejects table, warehouse files).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use povcensus::generator::{self, GenerateOptions};

use crate::ingest::{fixture_copy, ingest_json, povcensus, sql, text};

/// Drop the `rows` and `sha256` of every file from a submission's manifest (so a test may
/// change the files).
fn drop_manifest_counts(sub: &Path) {
    let path = sub.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (_, f) in m["files"].as_object_mut().unwrap() {
        *f = serde_json::json!({});
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn set_manifest(sub: &Path, key: &str, value: serde_json::Value) {
    let path = sub.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m[key] = value;
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

/// A small generated clean submission of province 52 (`dir/gen/52`).
fn generated(dir: &Path) -> PathBuf {
    let out = dir.join("gen");
    let mut o = GenerateOptions::new(&out);
    o.scale = 0.0005;
    o.provinces = Some(vec!["52".to_string()]);
    generator::generate(&o).unwrap();
    out.join("52")
}

/// The names and ID numbers of a generated persons.csv (UTF-8, English headers).
fn names_and_ids(persons: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(persons).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        out.insert(f[0].to_string()); // person_id
        if f[2].chars().count() >= 2 {
            out.insert(f[2].to_string()); // name
        }
    }
    out
}

/// Every message of the rejects table, the report files and the command's output.
fn everything_written(wh: &Path, output: &str) -> String {
    let mut all = output.to_string();
    all.push_str(&sql(
        wh.to_str().unwrap(),
        "SELECT message FROM rejects",
        &[],
        &[],
    ));
    for e in std::fs::read_dir(wh.join("_reports")).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    all
}

fn assert_nothing_personal(written: &str, personal: &BTreeSet<String>) {
    for p in personal {
        assert!(
            !written.contains(p.as_str()),
            "a name or ID number was written"
        );
    }
    // Nor a fragment of an ID number (17 digits in a row).
    let id_like = written
        .split(|c: char| !c.is_ascii_digit())
        .any(|t| t.len() >= 17);
    assert!(!id_like, "an ID-like number was written");
}

fn rejects_of(wh: &Path, file: &str) -> Vec<(String, String, String, String)> {
    let out = sql(
        wh.to_str().unwrap(),
        &format!(
            "SELECT COALESCE(CAST(line AS VARCHAR), '-') AS line, rule_id, COALESCE(\"column\", '-') AS col, message FROM rejects WHERE file = '{file}' ORDER BY line"
        ),
        &[],
        &[],
    );
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_string(),
                r[1].to_string(),
                r[2].to_string(),
                r[3].to_string(),
            )
        })
        .collect()
}

#[test]
fn one_province_in_two_directories_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture_copy(&dir.path().join("a"));
    let b = dir.path().join("b/x52");
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    std::fs::rename(fixture_copy(&dir.path().join("tmp")), &b).unwrap();
    set_manifest(&b, "submission_id", "52-other-01".into());
    let wh = dir.path().join("wh");
    let o = povcensus(&[
        "ingest",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("province 52 is given twice")
            && t.contains(a.to_str().unwrap())
            && t.contains(b.to_str().unwrap()),
        "{t}"
    );
    assert!(!wh.join("_catalog").exists(), "nothing committed");
}

#[test]
fn one_province_twice_is_refused_also_into_a_warehouse_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture_copy(&dir.path().join("a"));
    let latest = dir.path().join("latest");
    std::fs::rename(fixture_copy(&dir.path().join("tmp")), &latest).unwrap();
    set_manifest(&latest, "submission_id", "52-other-01".into());
    let wh = dir.path().join("wh");
    let (code, _) = ingest_json(
        &[a.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    let o = povcensus(&[
        "ingest",
        a.to_str().unwrap(),
        latest.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("province 52 is given twice"),
        "{}",
        text(&o)
    );
    let snapshots = std::fs::read_dir(wh.join("_catalog/snapshots"))
        .unwrap()
        .count();
    assert_eq!(snapshots, 1, "no second snapshot");
}

#[test]
fn the_same_directory_given_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture_copy(dir.path());
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let wh = dir.path().join("wh");
    let o = povcensus(&[
        "ingest",
        a.to_str().unwrap(),
        link.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the same submission directory is given twice"),
        "{}",
        text(&o)
    );
}

#[test]
fn implausible_money_and_weights_are_rejected_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let households = std::fs::read_to_string(sub.join("households.csv"))
        .unwrap()
        .replacen(",24000,3000,0,6000,", ",1e19,3000,0,6000,", 1);
    std::fs::write(sub.join("households.csv"), households).unwrap();
    let wh = dir.path().join("wh");
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    assert!(report.balanced);
    let r = rejects_of(&wh, "households.csv");
    assert!(
        r.iter()
            .any(|(l, rule, c, _)| l == "2" && rule == "value.money" && c == "income_wage"),
        "{r:?}"
    );
}

#[test]
fn a_stray_quote_is_reported_where_it_opened_and_its_lines_count_as_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let sub = generated(dir.path());
    drop_manifest_counts(&sub);
    let persons = std::fs::read_to_string(sub.join("persons.csv")).unwrap();
    let mut lines: Vec<String> = persons.lines().map(str::to_string).collect();
    let total = lines.len() as u64;
    assert!(total > 300, "enough lines: {total}");
    // Line 101 (index 100): an unclosed quote at the start of the name field.
    let mut f: Vec<String> = lines[100].split(',').map(str::to_string).collect();
    f[2] = format!("\"{}", f[2]);
    lines[100] = f.join(",");
    std::fs::write(sub.join("persons.csv"), lines.join("\n") + "\n").unwrap();
    let wh = dir.path().join("wh");
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    let p = &report.provinces[0];
    assert!(p.balanced());
    let persons = p.files.iter().find(|f| f.file == "persons.csv").unwrap();
    assert_eq!(persons.rows_read, total - 1, "every physical line counts");
    assert_eq!(persons.rows_rejected, total - 100, "lines 101 to the end");
    assert!(p.resubmission_required);
    let r = rejects_of(&wh, "persons.csv");
    let malformed: Vec<_> = r.iter().filter(|x| x.1 == "csv.malformed").collect();
    assert_eq!(malformed.len(), 1, "{r:?}");
    assert_eq!(malformed[0].0, "101");
    assert!(malformed[0].3.contains("quote"), "{}", malformed[0].3);
}

/// Ingest a generated submission with a fault planted in persons.csv and check that nothing
/// written names a person.
fn personal_data_stays_out(plant: impl FnOnce(&str) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let sub = generated(dir.path());
    drop_manifest_counts(&sub);
    let personal = names_and_ids(&sub.join("persons.csv"));
    let persons = std::fs::read_to_string(sub.join("persons.csv")).unwrap();
    std::fs::write(sub.join("persons.csv"), plant(&persons)).unwrap();
    let wh = dir.path().join("wh");
    let o = povcensus(&[
        "-v",
        "ingest",
        sub.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o2 = povcensus(&["versions", "--warehouse", wh.to_str().unwrap()]);
    let written = everything_written(&wh, &(text(&o) + &text(&o2)));
    assert_nothing_personal(&written, &personal);
}

fn swap_header(text: &str, a: &str, b: &str) -> String {
    let (header, rest) = text.split_once('\n').unwrap();
    let swapped: Vec<&str> = header
        .split(',')
        .map(|c| {
            if c == a {
                b
            } else if c == b {
                a
            } else {
                c
            }
        })
        .collect();
    format!("{}\n{rest}", swapped.join(","))
}

#[test]
fn swapped_name_and_ethnicity_headers_quote_no_name() {
    personal_data_stays_out(|t| swap_header(t, "name", "ethnicity"));
}

#[test]
fn swapped_person_and_household_id_headers_quote_no_id_number() {
    personal_data_stays_out(|t| swap_header(t, "person_id", "household_id"));
}

#[test]
fn a_missing_header_row_quotes_no_value() {
    personal_data_stays_out(|t| t.split_once('\n').unwrap().1.to_string());
}

#[test]
fn cr_only_line_endings_quote_no_value_and_reject_the_file() {
    personal_data_stays_out(|t| t.replace('\n', "\r"));
}

#[test]
fn cr_only_line_endings_are_a_clear_file_level_finding() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let persons = std::fs::read_to_string(sub.join("persons.csv")).unwrap();
    std::fs::write(
        sub.join("persons.csv"),
        persons.replace("\r\n", "\r").replace('\n', "\r"),
    )
    .unwrap();
    let wh = dir.path().join("wh");
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    let f = report.provinces[0]
        .files
        .iter()
        .find(|f| f.file == "persons.csv")
        .unwrap();
    assert!(f.file_rejected);
    assert_eq!((f.rows_read, f.rows_rejected), (6, 6));
    assert_eq!(report.provinces[0].rules.get("file.line_endings"), Some(&1));
}

#[test]
fn a_link_leaving_the_submission_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let secret = dir.path().join("secret.csv");
    std::fs::write(&secret, "SECRET-FIRST-LINE,x\n1,2\n").unwrap();
    std::fs::remove_file(sub.join("persons.csv")).unwrap();
    std::os::unix::fs::symlink(&secret, sub.join("persons.csv")).unwrap();
    let wh = dir.path().join("wh");
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    assert_eq!(report.provinces[0].rules.get("file.outside"), Some(&1));
    let all = sql(wh.to_str().unwrap(), "SELECT * FROM rejects", &[], &[]);
    assert!(!all.contains("SECRET"), "{all}");
}

#[test]
fn a_submission_id_with_control_characters_is_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    set_manifest(&sub, "submission_id", "52-\n\u{1b}[31mRED\u{7}".into());
    let wh = dir.path().join("wh");
    let o = povcensus(&[
        "ingest",
        sub.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = povcensus(&["versions", "--warehouse", wh.to_str().unwrap()]);
    let mut all = text(&o) + &text(&v);
    for e in std::fs::read_dir(wh.join("_reports")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            all.push_str(&std::fs::read_to_string(p).unwrap());
        }
    }
    assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "{all:?}");
    assert!(all.contains("52-\\n\\u{1b}[31mRED"), "{all}");
}

#[test]
fn a_report_that_could_not_be_stored_is_written_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let wh = dir.path().join("wh");
    std::fs::create_dir_all(&wh).unwrap();
    // `_reports` is a file: the reports cannot be stored.
    std::fs::write(wh.join("_reports"), "in the way").unwrap();
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1), "the committed data's status, not a failure");
    assert_eq!(report.snapshot, Some(1));
    std::fs::remove_file(wh.join("_reports")).unwrap();
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!((code, report.snapshot), (Some(1), None), "unchanged");
    let json = std::fs::read_to_string(wh.join("_reports/ingest-0000000001.json")).unwrap();
    let stored: povcensus::ingest::report::IngestReport = serde_json::from_str(&json).unwrap();
    assert_eq!(stored.snapshot, Some(1));
    assert_eq!(stored.provinces[0].province_code, "52");
    assert_eq!(stored.rows_read, report.rows_read);
    assert!(wh.join("_reports/ingest-0000000001.txt").exists());
}

#[test]
fn an_empty_required_file_is_a_file_level_finding() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    std::fs::write(sub.join("persons.csv"), "").unwrap();
    drop_manifest_counts(&sub);
    let wh = dir.path().join("wh");
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    let f = report.provinces[0]
        .files
        .iter()
        .find(|f| f.file == "persons.csv")
        .unwrap();
    assert!(f.file_rejected);
    assert_eq!(report.provinces[0].rules.get("file.header"), Some(&1));
}

#[test]
fn a_reject_threshold_outside_0_to_1_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let wh = dir.path().join("wh");
    for bad in ["NaN", "-0.1", "1.5", "inf"] {
        let o = povcensus(&[
            "ingest",
            sub.to_str().unwrap(),
            "--warehouse",
            wh.to_str().unwrap(),
            &format!("--reject-threshold={bad}"),
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains("--reject-threshold"), "{}", text(&o));
    }
    assert!(!wh.join("_catalog").exists(), "nothing committed");
}
