//! `povcensus diff` and `povcensus versions --json`: two snapshots with known changes (a
//! resubmission with rows changed, added and removed, a new province, an unchanged one),
//! counted per province and table, never a key printed.

use std::path::Path;

use crate::ingest::{povcensus, povcensus_env, text};
use crate::support::edit_submission_file;

/// Generated submissions of 52, 53 and 54 in `dir/subs`.
fn generate(dir: &Path) -> std::path::PathBuf {
    let subs = dir.join("subs");
    let o = povcensus(&[
        "generate",
        "--out",
        subs.to_str().unwrap(),
        "--scale",
        "0.0005",
        "--provinces",
        "52,53,54",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    subs
}

fn ingest(wh: &str, provinces: &[&Path]) {
    let mut args = vec!["ingest"];
    args.extend(provinces.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--warehouse", wh]);
    let o = povcensus(&args);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", text(&o));
}

fn column(headers: &[String], name: &str) -> usize {
    headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// The expected changes of the resubmission of 52.
struct Planted {
    persons_changed: u64,
    persons_removed: u64,
    households_changed: u64,
    households_removed: u64,
    villages_added: u64,
}

/// Resubmit 52 with: 3 persons' migrant_months changed, one household removed with its
/// members, one household's empty exit_year filled (a NULL becoming a value), one village
/// added, and one assessment household's approval changed (a table without a key: one row
/// removed, one added).
fn resubmit(p52: &Path) -> Planted {
    let mut assessed = std::collections::BTreeSet::new();
    edit_submission_file(p52, "assessment_households.csv", |h, mut rows| {
        let (hh, approval) = (column(h, "household_id"), column(h, "approval"));
        assessed = rows.iter().map(|r| r[hh].clone()).collect();
        rows[0][approval] = if rows[0][approval] == "1" { "2" } else { "1" }.into();
        rows
    });
    let mut removed_household = String::new();
    let mut households_changed = 0;
    edit_submission_file(p52, "households.csv", |h, mut rows| {
        let (id, status, exit) = (
            column(h, "household_id"),
            column(h, "enumeration_status"),
            column(h, "exit_year"),
        );
        let gone = rows
            .iter()
            .position(|r| r[status] == "1" && !assessed.contains(&r[id]))
            .unwrap();
        removed_household = rows.remove(gone)[id].clone();
        if let Some(r) = rows
            .iter_mut()
            .find(|r| r[status] == "1" && r[exit].is_empty())
        {
            r[exit] = "2020".into();
            households_changed += 1;
        }
        rows
    });
    let mut persons_removed = 0;
    edit_submission_file(p52, "persons.csv", |h, rows| {
        let (hh, months) = (column(h, "household_id"), column(h, "migrant_months"));
        let mut kept: Vec<Vec<String>> = Vec::new();
        for r in rows {
            if r[hh] == removed_household {
                persons_removed += 1;
            } else {
                kept.push(r);
            }
        }
        for r in kept.iter_mut().take(3) {
            r[months] = if r[months] == "12" { "11" } else { "12" }.into();
        }
        kept
    });
    edit_submission_file(p52, "villages.csv", |h, mut rows| {
        let code = column(h, "village_code");
        let mut new = rows[0].clone();
        new[code] = format!("{}599", &new[code][..9]);
        assert!(!rows.iter().any(|r| r[code] == new[code]));
        rows.push(new);
        rows
    });
    let manifest = p52.join("manifest.json");
    let m = std::fs::read_to_string(&manifest).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&m).unwrap();
    v["submission_id"] = serde_json::json!("52-resubmitted");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    Planted {
        persons_changed: 3,
        persons_removed,
        households_changed,
        households_removed: 1,
        villages_added: 1,
    }
}

#[test]
fn diff_counts_rows_added_removed_and_changed_per_province_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let subs = generate(dir.path());
    let wh = dir.path().join("wh").display().to_string();
    ingest(&wh, &[&subs.join("52"), &subs.join("54")]);
    let planted = resubmit(&subs.join("52"));
    assert!(planted.persons_removed > 0 && planted.households_changed == 1);
    ingest(&wh, &[&subs.join("52"), &subs.join("53"), &subs.join("54")]);

    let o = povcensus(&["diff", "--warehouse", &wh, "1", "2", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((d["from"].as_u64(), d["to"].as_u64()), (Some(1), Some(2)));
    let province = |code: &str| {
        d["provinces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["province_code"] == code)
            .unwrap_or_else(|| panic!("{code} missing"))
            .clone()
    };
    let table = |p: &serde_json::Value, t: &str| -> [u64; 3] {
        let t = p["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == t)
            .unwrap_or_else(|| panic!("{t} missing"));
        ["added", "removed", "changed"].map(|k| t[k].as_u64().unwrap())
    };
    let p52 = province("52");
    assert_eq!(p52["status"], "changed");
    assert_eq!(
        (p52["version_from"].as_u64(), p52["version_to"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        table(&p52, "persons"),
        [0, planted.persons_removed, planted.persons_changed]
    );
    assert_eq!(
        table(&p52, "households"),
        [0, planted.households_removed, planted.households_changed]
    );
    assert_eq!(table(&p52, "villages"), [planted.villages_added, 0, 0]);
    assert_eq!(table(&p52, "counties"), [0, 0, 0]);
    assert_eq!(table(&p52, "townships"), [0, 0, 0]);
    assert_eq!(table(&p52, "assessment_households"), [1, 1, 0]);
    // A new province: every row added, counted from the catalog.
    let p53 = province("53");
    assert_eq!(p53["status"], "new");
    let persons53 = p53["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "persons")
        .unwrap()
        .clone();
    assert!(persons53["rows_to"].as_u64().unwrap() > 0);
    assert_eq!(persons53["added"], persons53["rows_to"]);
    // The same version in both: no table read.
    let p54 = province("54");
    assert_eq!(p54["status"], "unchanged");
    assert_eq!(p54["tables"], serde_json::json!([]));

    // The table: a line per table, no ID number or key.
    let o = povcensus(&["diff", "--warehouse", &wh, "1", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let shown = String::from_utf8(o.stdout).unwrap();
    assert!(
        shown.contains("贵州省") && shown.contains("unchanged"),
        "{shown}"
    );
    let persons_line = shown
        .lines()
        .find(|l| l.starts_with("52 ") && l.contains(" persons "))
        .unwrap();
    let nums: Vec<&str> = persons_line.split_whitespace().rev().take(3).collect();
    assert_eq!(
        nums,
        [
            planted.persons_changed.to_string(),
            planted.persons_removed.to_string(),
            "0".to_string()
        ]
    );
    assert!(
        !shown
            .chars()
            .collect::<Vec<_>>()
            .windows(16)
            .any(|w| w.iter().all(|c| c.is_ascii_digit())),
        "a 16-digit key or ID number is printed: {shown}"
    );
}

#[test]
fn diff_of_a_snapshot_with_itself_changes_nothing_and_an_unknown_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let sub = crate::ingest::fixture_copy(dir.path());
    ingest(wh.to_str().unwrap(), &[&sub]);
    let wh = wh.to_str().unwrap();
    let o = povcensus(&["diff", "--warehouse", wh, "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no province changed"));
    let o = povcensus(&["diff", "--warehouse", wh, "1", "7"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no snapshot 7"), "{}", text(&o));
}

#[test]
fn versions_json_gives_commit_times() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let sub = crate::ingest::fixture_copy(dir.path());
    let before = std::time::SystemTime::now();
    ingest(wh.to_str().unwrap(), &[&sub]);
    // POVCENSUS_WAREHOUSE stands for --warehouse.
    let o = povcensus_env(
        &["versions", "--json"],
        &[("POVCENSUS_WAREHOUSE".into(), wh.display().to_string())],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["snapshots"][0];
    assert_eq!(s["snapshot"], 1);
    assert_eq!(s["parent"], serde_json::Value::Null);
    assert_eq!(s["provinces"][0]["province_code"], "52");
    assert_eq!(s["provinces"][0]["submission_id"], "52-fixture-01");
    let at = s["committed_at"].as_str().unwrap();
    assert!(at.ends_with('Z') && at.len() == 20, "{at}");
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    };
    // RFC 3339 in UTC, between the start of the ingest and now.
    let (date, time) = at.trim_end_matches('Z').split_once('T').unwrap();
    let o = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{date} {time}"), "+%s"])
        .output()
        .unwrap();
    let t: i64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert!(
        t >= secs(before) - 1 && t <= secs(std::time::SystemTime::now()),
        "{at}"
    );
    // A catalog written before commit times were kept still reads: no time shown.
    let snap = wh.join("_catalog/snapshots/0000000001.json");
    let mut j: serde_json::Value = serde_json::from_slice(&std::fs::read(&snap).unwrap()).unwrap();
    j.as_object_mut().unwrap().remove("committed_at");
    std::fs::write(&snap, serde_json::to_vec(&j).unwrap()).unwrap();
    let o = povcensus(&["versions", "--warehouse", wh.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["snapshots"][0]["committed_at"], serde_json::Value::Null);
    let o = povcensus(&["versions", "--warehouse", wh.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        table.lines().nth(1).is_some_and(|l| l.ends_with("  —")),
        "{table}"
    );
}

/// `sql --extract` works with POVCENSUS_WAREHOUSE set (the variable never clashes with
/// --extract), `sql` without either takes the variable, and without it says what to pass.
#[test]
fn sql_takes_the_warehouse_from_the_environment_unless_given_an_extract() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let sub = crate::ingest::fixture_copy(dir.path());
    ingest(wh.to_str().unwrap(), &[&sub]);
    let env = [("POVCENSUS_WAREHOUSE".to_string(), wh.display().to_string())];
    let o = povcensus_env(
        &[
            "sql",
            "-c",
            "SELECT COUNT(*) AS n FROM counties",
            "--format",
            "csv",
        ],
        &env,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n1\n");
    // --extract with the variable set: the extract is read (here: not an extract), no clash.
    let o = povcensus_env(
        &[
            "sql",
            "--extract",
            dir.path().to_str().unwrap(),
            "-c",
            "SELECT 1",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("is not a research extract"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("cannot be used with"), "{}", text(&o));
    // Neither: a clear error.
    let o = povcensus(&["sql", "-c", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("POVCENSUS_WAREHOUSE"), "{}", text(&o));
    // Both flags are still refused together.
    let o = povcensus(&[
        "sql",
        "--warehouse",
        wh.to_str().unwrap(),
        "--extract",
        "x",
        "-c",
        "SELECT 1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
