//! `povcensus ingest`, `sql` and `versions`, run as the real binary against local and S3
//! warehouses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use povcensus::contract::rules::Rule;
use povcensus::generator::{self, GenerateOptions, TruthEntry, read_truth};
use povcensus::ingest::report::IngestReport;

use crate::oracle;

pub fn povcensus(args: &[&str]) -> Output {
    povcensus_env(args, &[])
}

/// `povcensus run TOML --warehouse WH --out OUT`, then `extra`.
pub fn run_pipeline(toml: &Path, wh: &str, out: &Path, extra: &[&str]) -> Output {
    let (toml, out) = (toml.display().to_string(), out.display().to_string());
    let mut args = vec!["run", &toml, "--warehouse", wh, "--out", &out];
    args.extend_from_slice(extra);
    povcensus(&args)
}

pub fn povcensus_env(args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_povcensus"));
    c.args(args)
        .env_remove("POVCENSUS_FAILPOINT")
        .env_remove("POVCENSUS_WAREHOUSE")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ingest/52")
}

/// Copy the hand-made fixture so a test may change it.
pub fn fixture_copy(dir: &Path) -> PathBuf {
    let to = dir.join("52");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(fixture()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
    to
}

/// Ingest the committed sample (clean provinces and the broken submission) into `dir/wh`;
/// returns the warehouse path.
pub fn ingest_sample(dir: &Path) -> String {
    let wh = dir.join("wh").display().to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let subs = root.join("sample-data/submissions");
    let broken = root.join("sample-data/broken");
    let o = povcensus(&[
        "ingest",
        subs.to_str().unwrap(),
        broken.to_str().unwrap(),
        "--warehouse",
        &wh,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    wh
}

/// Run SQL and return the CSV output (header included).
pub fn sql(wh: &str, query: &str, extra: &[&str], env: &[(String, String)]) -> String {
    let mut args = vec!["sql", "--warehouse", wh, "-c", query, "--format", "csv"];
    args.extend_from_slice(extra);
    let o = povcensus_env(&args, env);
    assert!(o.status.success(), "sql failed: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

pub fn ingest_json(args: &[&str], env: &[(String, String)]) -> (Option<i32>, IngestReport) {
    let mut all = vec!["ingest", "--json"];
    all.extend_from_slice(args);
    let o = povcensus_env(&all, env);
    let report: IngestReport =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.code(), report)
}

pub fn reject_set(
    wh: &str,
    env: &[(String, String)],
) -> BTreeSet<(String, String, Option<u64>, String)> {
    let out = sql(
        wh,
        "SELECT province_code, file, line, rule_id FROM rejects",
        &[],
        env,
    );
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].parse().ok(),
                f[3].to_string(),
            )
        })
        .collect()
}

const FIXTURE_REJECTS: &[(&str, u64, &str)] = &[
    ("counties.csv", 3, "value.code"),
    ("townships.csv", 4, "key.orphan"),
    ("villages.csv", 3, "key.orphan"),
    ("households.csv", 3, "household.size_mismatch"),
    ("households.csv", 5, "key.orphan"),
    ("persons.csv", 6, "id.checksum"),
    ("persons.csv", 7, "key.orphan"),
];

fn fixture_expected() -> BTreeSet<(String, String, Option<u64>, String)> {
    FIXTURE_REJECTS
        .iter()
        .map(|(f, l, r)| ("52".to_string(), f.to_string(), Some(*l), r.to_string()))
        .collect()
}

#[test]
fn hand_made_submission_crlf_bom_quotes_and_a_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let (code, report) = ingest_json(&[fixture().to_str().unwrap(), "--warehouse", wh], &[]);
    assert_eq!(code, Some(1), "rejected rows give exit status 1");
    assert_eq!(reject_set(wh, &[]), fixture_expected());
    let p = &report.provinces[0];
    assert!(report.balanced && p.balanced());
    let counts: Vec<(String, u64, u64, u64, u64)> = p
        .files
        .iter()
        .map(|f| {
            (
                f.file.clone(),
                f.rows_read,
                f.rows_loaded,
                f.rows_rejected,
                f.rows_flagged,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("counties.csv".into(), 2, 1, 1, 0),
            ("townships.csv".into(), 2, 1, 1, 0),
            ("villages.csv".into(), 2, 1, 1, 0),
            ("households.csv".into(), 4, 3, 1, 1),
            ("persons.csv".into(), 6, 4, 2, 0),
        ]
    );
    // Quoted commas and line breaks survive; the trailing CR of CRLF does not.
    let out = sql(wh, "SELECT village_name FROM villages", &[], &[]);
    assert_eq!(out, "village_name\n\"石坪,村\"\n");
    let out = sql(
        wh,
        "SELECT township_name = '井城\r\n街道' AS ok, has_culture_station FROM townships",
        &[],
        &[],
    );
    assert_eq!(out, "ok,has_culture_station\ntrue,1\n");
    // Typed columns.
    let out = sql(
        wh,
        "SELECT arrow_typeof(birth_date) AS d, arrow_typeof(relation) AS r, arrow_typeof(person_id) AS p FROM persons LIMIT 1",
        &[],
        &[],
    );
    assert_eq!(out, "d,r,p\nDate32,Int16,Utf8\n");
    let out = sql(
        wh,
        "SELECT arrow_typeof(income_wage) AS m, arrow_typeof(population) AS n FROM households, villages LIMIT 1",
        &[],
        &[],
    );
    assert_eq!(out, "m,n\nFloat64,Int64\n");
    // Messages name the rule and never the ID number.
    let msg = sql(
        wh,
        "SELECT message FROM rejects WHERE rule_id = 'id.checksum'",
        &[],
        &[],
    );
    let persons = std::fs::read_to_string(fixture().join("persons.csv")).unwrap();
    let bad_id = persons.lines().nth(5).unwrap().split(',').next().unwrap();
    assert!(
        !msg.contains(bad_id) && msg.contains("check character"),
        "{msg}"
    );
}

/// The fixture as a province office using GB18030 and Chinese (partly English) headers sends it.
#[test]
fn gb18030_with_chinese_headers_gives_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    for t in povcensus::contract::schema::Table::ALL {
        let p = sub.join(t.file_name());
        if !p.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let text = text.trim_start_matches('\u{feff}');
        let (header, rest) = text.split_once("\r\n").unwrap();
        let zh: Vec<String> = header
            .split(',')
            .enumerate()
            .map(|(i, h)| {
                let c = t.columns().iter().find(|c| c.name == h).unwrap();
                if i % 2 == 0 {
                    c.label_zh.to_string()
                } else {
                    c.name.to_string()
                }
            })
            .collect();
        let utf8 = format!("{}\r\n{rest}", zh.join(","));
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&utf8);
        assert!(!unmappable);
        std::fs::write(&p, &bytes).unwrap();
    }
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let o = povcensus(&["ingest", sub.to_str().unwrap(), "--warehouse", wh]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("rows read = 10 loaded + 6 rejected"),
        "{}",
        text(&o)
    );
    assert_eq!(reject_set(wh, &[]), fixture_expected());
    assert_eq!(
        sql(wh, "SELECT county_name FROM counties", &[], &[]),
        "county_name\n独山县\n"
    );
}

#[test]
fn generated_faults_are_all_found_and_rows_balance() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let provinces = [
        "43", "45", "46", "50", "51", "52", "53", "61", "62", "63", "64",
    ];
    let mut o = GenerateOptions::new(&subs);
    o.scale = 0.002;
    o.error_rate = 0.01;
    o.provinces = Some(provinces.iter().map(|s| s.to_string()).collect());
    generator::generate(&o).unwrap();
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    // Sort-merge joins and the duplicate keys' spilling aggregate (the strategy for a census
    // larger than memory) here; the other tests use hash joins and find repeated keys in
    // memory.
    let (code, report) = ingest_json(
        &[
            subs.to_str().unwrap(),
            "--warehouse",
            wh,
            "--joins",
            "spill",
        ],
        &[],
    );
    assert_eq!(code, Some(1));
    assert!(report.balanced);

    let mut truth: Vec<TruthEntry> = Vec::new();
    for p in provinces {
        truth.extend(read_truth(&subs.join(format!("ground_truth/{p}.jsonl"))).unwrap());
    }
    let want: BTreeSet<_> = crate::generate::expected_findings(&subs, &provinces, &truth)
        .into_iter()
        .map(|(p, f, l, r)| (p, f, l, r.id().to_string()))
        .collect();
    let got = reject_set(wh, &[]);
    let missed: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(missed.is_empty(), "planted but not reported: {missed:#?}");
    assert!(extra.is_empty(), "reported but not planted: {extra:#?}");

    // The product's counts agree with the independent oracle, file by file.
    let expected = oracle::check(&subs, true);
    for p in &report.provinces {
        for f in &p.files {
            let (read, loaded, rejected) =
                expected.counts[&(p.province_code.clone(), f.file.clone())];
            assert_eq!(
                (f.rows_read, f.rows_loaded, f.rows_rejected),
                (read, loaded, rejected),
                "{}/{}",
                p.province_code,
                f.file
            );
        }
    }
    // And the warehouse holds exactly the loaded rows.
    for t in [
        "counties",
        "townships",
        "villages",
        "households",
        "persons",
        "assessment_households",
    ] {
        let n: u64 = sql(wh, &format!("SELECT COUNT(*) AS n FROM {t}"), &[], &[])
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let loaded: u64 = report
            .provinces
            .iter()
            .flat_map(|p| &p.files)
            .filter(|f| f.file == format!("{t}.csv"))
            .map(|f| f.rows_loaded)
            .sum();
        assert_eq!(n, loaded, "{t}");
    }
    // Provinces over the threshold are flagged for resubmission.
    assert!(report.provinces.iter().any(|p| p.resubmission_required));
    assert!(
        report
            .provinces
            .iter()
            .all(|p| p.resubmission_required == (p.rejected_share > report.reject_threshold))
    );
}

#[test]
fn a_person_already_in_the_warehouse_from_another_province_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let mut o = GenerateOptions::new(&subs);
    o.scale = 0.001;
    o.error_rate = 0.005;
    o.provinces = Some(vec!["51".into(), "52".into()]);
    generator::generate(&o).unwrap();
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    // 52 first, then 51: the person of 52 who is also in 51 is rejected in 52's run only
    // when 51 is already loaded, so load 51 first.
    povcensus(&[
        "ingest",
        subs.join("51").to_str().unwrap(),
        "--warehouse",
        wh,
    ]);
    let o = povcensus(&[
        "ingest",
        subs.join("52").to_str().unwrap(),
        "--warehouse",
        wh,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let truth = read_truth(&subs.join("ground_truth/52.jsonl")).unwrap();
    let dup = truth
        .iter()
        .find(|e| e.requires_province.as_deref() == Some("51"))
        .unwrap();
    let out = sql(
        wh,
        &format!(
            "SELECT message FROM rejects WHERE province_code = '52' AND file = 'persons.csv' AND line = {}",
            dup.line.unwrap()
        ),
        &[],
        &[],
    );
    assert!(
        out.contains("already in the warehouse for province 51"),
        "{out}"
    );
    // The kept record is 51's.
    let key = dup.record_key.as_deref().unwrap();
    let out = sql(
        wh,
        &format!("SELECT province_code FROM persons WHERE person_id = '{key}'"),
        &[],
        &[],
    );
    assert_eq!(out, "province_code\n51\n");
}

#[test]
fn resubmission_versions_idempotence_and_time_travel() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let s = sub.to_str().unwrap();
    let (c1, r1) = ingest_json(&[s, "--warehouse", wh], &[]);
    assert_eq!(r1.snapshot, Some(1));
    let listing = || -> Vec<String> {
        let mut files: Vec<String> = crate::support::files_below(Path::new(wh))
            .into_iter()
            .map(|p| p.display().to_string())
            .collect();
        files.sort();
        files
    };
    let before = listing();
    // The same submission again changes nothing, and reports the same outcome.
    let (c2, r2) = ingest_json(&[s, "--warehouse", wh], &[]);
    assert_eq!(r2.snapshot, None);
    assert_eq!(c1, c2);
    assert_eq!(
        r2.provinces[0].status,
        povcensus::ingest::report::Status::Unchanged
    );
    assert_eq!(r2.provinces[0].files, r1.provinces[0].files);
    assert_eq!(listing(), before, "no file written");
    // A corrected resubmission becomes version 2.
    let counties = std::fs::read_to_string(sub.join("counties.csv"))
        .unwrap()
        .replace("平塘县,9,", "平塘县,1,");
    std::fs::write(sub.join("counties.csv"), counties).unwrap();
    let manifest = std::fs::read_to_string(sub.join("manifest.json"))
        .unwrap()
        .replace("52-fixture-01", "52-fixture-02");
    std::fs::write(sub.join("manifest.json"), manifest).unwrap();
    let (c3, r3) = ingest_json(&[s, "--warehouse", wh], &[]);
    assert_eq!(
        (c3, r3.snapshot, r3.provinces[0].version),
        (Some(1), Some(2), Some(2))
    );
    assert_eq!(
        sql(wh, "SELECT COUNT(*) AS n FROM counties", &[], &[]),
        "n\n2\n"
    );
    assert_eq!(
        sql(wh, "SELECT COUNT(*) AS n FROM persons", &[], &[]),
        "n\n5\n"
    );
    // The earlier version stays readable.
    assert_eq!(
        sql(
            wh,
            "SELECT COUNT(*) AS n FROM counties",
            &["--as-of", "1"],
            &[]
        ),
        "n\n1\n"
    );
    assert_eq!(
        sql(
            wh,
            "SELECT COUNT(*) AS n FROM persons",
            &["--as-of", "1"],
            &[]
        ),
        "n\n4\n"
    );
    let o = povcensus(&["versions", "--warehouse", wh]);
    let v = String::from_utf8_lossy(&o.stdout);
    assert!(
        v.contains("52-fixture-01") && v.contains("52-fixture-02"),
        "{v}"
    );
    let o = povcensus(&["sql", "--warehouse", wh, "--as-of", "9", "-c", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no snapshot 9"), "{}", text(&o));
}

#[test]
fn a_crash_before_the_commit_leaves_the_previous_state_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let s = sub.to_str().unwrap();
    povcensus(&["ingest", s, "--warehouse", wh]);
    let counties = std::fs::read_to_string(sub.join("counties.csv"))
        .unwrap()
        .replace("平塘县,9,", "平塘县,1,");
    std::fs::write(sub.join("counties.csv"), counties).unwrap();
    let crash = [(
        "POVCENSUS_FAILPOINT".to_string(),
        "before-commit".to_string(),
    )];
    let o = povcensus_env(&["ingest", s, "--warehouse", wh], &crash);
    assert!(
        !o.status.success() && o.status.code() != Some(1),
        "the process aborted: {:?}",
        o.status
    );
    // All data of the new version was written, but readers still see snapshot 1.
    assert_eq!(
        sql(wh, "SELECT COUNT(*) AS n FROM counties", &[], &[]),
        "n\n1\n"
    );
    let (code, report) = ingest_json(&[s, "--warehouse", wh], &[]);
    assert_eq!((code, report.snapshot), (Some(1), Some(2)));
    assert_eq!(
        sql(wh, "SELECT COUNT(*) AS n FROM counties", &[], &[]),
        "n\n2\n"
    );
}

#[test]
fn kill_9_at_any_moment_leaves_a_readable_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let mut o = GenerateOptions::new(&subs);
    o.scale = 0.01;
    o.provinces = Some(vec!["53".into(), "54".into()]);
    generator::generate(&o).unwrap();
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let first = subs.join("54");
    povcensus(&["ingest", first.to_str().unwrap(), "--warehouse", wh]);
    let baseline = sql(
        wh,
        "SELECT province_code, COUNT(*) AS n FROM persons GROUP BY 1 ORDER BY 1",
        &[],
        &[],
    );
    let target = subs.join("53");
    // The killed runs' staging directories, where the next run finds them.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmp_env = [("TMPDIR".to_string(), tmp.display().to_string())];
    for delay_ms in [50u64, 300, 900, 1600] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_povcensus"))
            .args(["ingest", target.to_str().unwrap(), "--warehouse", wh])
            .env("RUST_LOG", "warn")
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let now = sql(
            wh,
            "SELECT province_code, COUNT(*) AS n FROM persons GROUP BY 1 ORDER BY 1",
            &[],
            &[],
        );
        if status.success() || status.code() == Some(1) {
            break; // it finished before the kill
        }
        assert_eq!(
            now, baseline,
            "after a kill at {delay_ms} ms the previous state is current"
        );
    }
    let o = povcensus_env(
        &["ingest", target.to_str().unwrap(), "--warehouse", wh],
        &tmp_env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Staged records of the killed runs do not outlive the next run.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let now = sql(
        wh,
        "SELECT province_code FROM persons GROUP BY 1 ORDER BY 1",
        &[],
        &[],
    );
    assert_eq!(now, "province_code\n53\n54\n");
}

#[test]
fn manifest_mismatches_reject_the_file_and_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sub.join("manifest.json")).unwrap()).unwrap();
    m["files"]["persons.csv"]["rows"] = 7.into();
    m["files"]["villages.csv"]["sha256"] = "00".repeat(32).into();
    std::fs::write(
        sub.join("manifest.json"),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let (code, report) = ingest_json(&[sub.to_str().unwrap(), "--warehouse", wh], &[]);
    assert_eq!(code, Some(1));
    let p = &report.provinces[0];
    let f = |name: &str| p.files.iter().find(|f| f.file == name).unwrap().clone();
    assert!(f("persons.csv").file_rejected && f("persons.csv").rows_rejected == 6);
    assert!(f("villages.csv").file_rejected && f("villages.csv").rows_rejected == 2);
    // Without villages every household is an orphan.
    assert_eq!(f("households.csv").rows_loaded, 0);
    let got = reject_set(wh, &[]);
    assert!(got.contains(&(
        "52".into(),
        "persons.csv".into(),
        None,
        "file.manifest_rows".into()
    )));
    assert!(got.contains(&(
        "52".into(),
        "villages.csv".into(),
        None,
        "file.manifest_sha256".into()
    )));
    assert!(
        p.problems
            .iter()
            .any(|s| s.contains("manifest.json states 7")),
        "{:?}",
        p.problems
    );
    assert!(report.balanced);
}

#[test]
fn a_manifest_of_another_province_rejects_the_submission() {
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_copy(dir.path());
    let m = std::fs::read_to_string(sub.join("manifest.json"))
        .unwrap()
        .replace("\"province_code\": \"52\"", "\"province_code\": \"53\"");
    std::fs::write(sub.join("manifest.json"), m).unwrap();
    let wh = dir.path().join("wh");
    let (code, report) = ingest_json(
        &[sub.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1));
    assert_eq!(report.snapshot, None, "nothing committed");
    let p = &report.provinces[0];
    assert_eq!(p.status, povcensus::ingest::report::Status::Rejected);
    assert!(
        p.problems[0].contains("names province 53 but the submission directory is 52"),
        "{:?}",
        p.problems
    );
    assert_eq!(p.rows_read, 16);
    assert_eq!(p.rows_rejected, 16);
}

#[test]
fn failures_exit_with_status_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let o = povcensus(&[
        "ingest",
        "/nonexistent/submission",
        "--warehouse",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/submission"), "{}", text(&o));
    let o = povcensus(&[
        "ingest",
        dir.path().to_str().unwrap(),
        "--warehouse",
        dir.path().join("wh").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("no province submission found"),
        "{}",
        text(&o)
    );
    let o = povcensus(&[
        "sql",
        "--warehouse",
        dir.path().to_str().unwrap(),
        "-c",
        "SELEC 1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn ingest_never_prints_names_or_id_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let broken = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/broken/62");
    let wh = dir.path().join("wh");
    let o = povcensus_env(
        &[
            "-v",
            "ingest",
            broken.to_str().unwrap(),
            "--warehouse",
            wh.to_str().unwrap(),
        ],
        &[("RUST_LOG".into(), "debug".into())],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    let id_like = out
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|t| t.len() >= 17 && t.bytes().take(17).all(|b| b.is_ascii_digit()));
    assert!(!id_like, "an ID number was printed");
    let persons = std::fs::read_to_string(broken.join("persons.csv")).unwrap();
    for line in persons.lines().skip(1).take(200) {
        let name = line.split(',').nth(2).unwrap_or("");
        if name.chars().count() >= 2 {
            assert!(!out.contains(name), "a name was printed");
        }
    }
}

/// `-v` says how long each phase of the run and each table's cross-row checks took (what a
/// census office reads to see where a national ingest spends its time).
#[test]
fn verbose_ingest_logs_each_phase_with_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let province = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/broken/62");
    let wh = dir.path().join("wh");
    // As a user runs it: `-v`, no RUST_LOG.
    let o = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args(["-v", "ingest", province.to_str().unwrap(), "--warehouse"])
        .arg(&wh)
        .env_remove("RUST_LOG")
        .env_remove("POVCENSUS_FAILPOINT")
        .env_remove("POVCENSUS_WAREHOUSE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let logs = String::from_utf8_lossy(&o.stderr);
    let timed = |what: &str, name: &str| {
        logs.lines().any(|l| {
            l.starts_with("info: ")
                && l.contains(what)
                && l.contains(name)
                && l.split("seconds=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .is_some_and(|s| s.parse::<f64>().is_ok_and(|x| x >= 0.0))
        })
    };
    for phase in ["staging", "cross-row checks", "writing"] {
        assert!(
            timed("phase done", &format!("phase=\"{phase}\"")),
            "no time for the phase {phase}:\n{logs}"
        );
    }
    for table in povcensus::contract::schema::Table::ALL.map(|t| t.name()) {
        assert!(
            timed("cross-row checks done", &format!("table=\"{table}\"")),
            "no time for the checks of {table}:\n{logs}"
        );
    }
}

#[test]
fn sample_data_with_the_broken_submission() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let o = povcensus(&[
        "ingest",
        root.join("submissions").to_str().unwrap(),
        root.join("broken").to_str().unwrap(),
        "--warehouse",
        wh,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("云南省") && out.contains("甘肃省"), "{out}");
    assert!(out.contains("file.other_province"), "{out}");
    let truth = read_truth(&root.join("broken/ground_truth/62.jsonl")).unwrap();
    let got = reject_set(wh, &[]);
    for e in truth.iter().filter(|e| e.requires_province.is_none()) {
        assert!(
            got.contains(&(
                e.province.clone(),
                e.file.clone(),
                e.line,
                e.rule.id().to_string()
            )),
            "{e:?}"
        );
    }
    assert!(
        got.iter().all(|(p, ..)| p == "62"),
        "the clean provinces have no findings"
    );
    let _ = Rule::ALL;
}

/// Upload a local directory's files under `prefix` of a bucket of the test S3 server.
fn upload(s3: &crate::support::S3Server, bucket: &str, dir: &Path, prefix: &str) {
    use object_store::{ObjectStoreExt, PutPayload};
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_endpoint(&s3.endpoint)
        .with_allow_http(true)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for p in crate::support::files_below(dir) {
        let rel = p
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let path = object_store::path::Path::from(format!("{prefix}/{rel}"));
        rt.block_on(store.put(&path, PutPayload::from(std::fs::read(&p).unwrap())))
            .unwrap();
    }
}

#[test]
fn s3_warehouse_and_submissions_on_a_real_s3_server() {
    let s3 = crate::support::S3Server::start();
    s3.create_bucket("census");
    let env = s3.env();
    let wh = "s3://census/warehouse";
    // A local submission into an S3 warehouse.
    let (code, report) = ingest_json(&[fixture().to_str().unwrap(), "--warehouse", wh], &env);
    assert_eq!((code, report.snapshot), (Some(1), Some(1)));
    assert_eq!(reject_set(wh, &env), fixture_expected());
    assert_eq!(
        sql(wh, "SELECT COUNT(*) AS n FROM persons", &[], &env),
        "n\n4\n"
    );
    // Submissions read from S3 as well.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/submissions");
    upload(&s3, "census", &sample.join("45"), "inbox/45");
    upload(&s3, "census", &sample.join("53"), "inbox/53");
    let (code, report) = ingest_json(&["s3://census/inbox", "--warehouse", wh], &env);
    assert_eq!((code, report.snapshot), (Some(0), Some(2)), "{report:?}");
    assert!(report.balanced);
    let out = sql(
        wh,
        "SELECT province_code, COUNT(*) AS n FROM households GROUP BY 1 ORDER BY 1",
        &[],
        &env,
    );
    let lines = |p: &str| {
        std::fs::read(sample.join(p).join("households.csv"))
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            - 1
    };
    assert_eq!(
        out,
        format!(
            "province_code,n\n45,{}\n52,3\n53,{}\n",
            lines("45"),
            lines("53")
        )
    );
    // Unchanged on a rerun; time travel works on S3 too.
    let (_, again) = ingest_json(&["s3://census/inbox", "--warehouse", wh], &env);
    assert_eq!(again.snapshot, None);
    assert_eq!(
        sql(
            wh,
            "SELECT COUNT(*) AS n FROM households",
            &["--as-of", "1"],
            &env
        ),
        "n\n3\n"
    );
}
