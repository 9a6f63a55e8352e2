//! Register submissions of departments through `povcensus ingest` (`registers.md` §1):
//! hand-made registers with one fault per row, the manifest checks, resubmission, idempotence,
//! registers beside provinces and without a census, and the generated registers.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use povcensus::contract::id_number;

use crate::ingest::{fixture_copy, ingest_json, povcensus, sql, text};

/// A valid ID number of someone born on `birth` in county `county`.
fn id(county: u32, birth: (i32, u32, u32), seq: u16) -> String {
    let d = NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2).unwrap();
    id_number::build(county, d, seq)
}

/// Write a department's submission: `files` as (file name, CSV text), with the manifest
/// stating their row counts.
fn department(root: &Path, dept: &str, submission_id: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(dept);
    std::fs::create_dir_all(&dir).unwrap();
    let mut entries = serde_json::Map::new();
    for (name, csv) in files {
        std::fs::write(dir.join(name), csv).unwrap();
        let rows = csv.lines().count() - 1;
        entries.insert(name.to_string(), serde_json::json!({ "rows": rows }));
    }
    let manifest = serde_json::json!({
        "department": dept,
        "submission_id": submission_id,
        "reference_date": "2020-12-31",
        "files": entries,
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    dir
}

/// civil_affairs.csv with one clean row, one flagged row and one fault on each other row.
fn civil_affairs_csv() -> String {
    let ok = id(522726, (1950, 3, 1), 11);
    let mut bad = id(522726, (1960, 5, 5), 21);
    let last = if bad.ends_with('1') { '2' } else { '1' };
    bad.pop();
    bad.push(last);
    [
        "id_number,county_code,assistance_type,start_date,end_date".to_string(),
        format!("{ok},522726,1,2018-01-01,"),
        format!("{bad},522726,1,2018-01-01,"),
        format!("{},110101,1,2018-01-01,", id(110101, (1970, 1, 1), 31)),
        format!("{},522726,2,2020-02-30,", id(522726, (1971, 1, 1), 41)),
        format!("{},522726,1,2021-03-01,", id(522726, (1972, 1, 1), 51)),
        format!(
            "{},522726,1,2019-06-01,2019-01-01",
            id(522726, (1973, 1, 1), 61)
        ),
        format!("{},522726,3,2019-06-01,", id(522726, (1974, 1, 1), 71)),
        format!("{},,1,2019-06-01,", id(522726, (1975, 1, 1), 81)),
    ]
    .join("\n")
        + "\n"
}

fn rejects(wh: &str) -> Vec<String> {
    sql(
        wh,
        "SELECT submission_id, file, line, rule_id, \"column\", severity FROM register_rejects \
         ORDER BY file, line, rule_id",
        &[],
        &[],
    )
    .lines()
    .skip(1)
    .map(str::to_string)
    .collect()
}

#[test]
fn register_rows_are_rejected_with_rule_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let sub = department(
        dir.path(),
        "civil_affairs",
        "mca-1",
        &[("civil_affairs.csv", &civil_affairs_csv())],
    );
    let wh = dir.path().join("wh").display().to_string();
    let (code, report) = ingest_json(&[sub.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!(code, Some(1), "rows were rejected");
    let d = &report.departments[0];
    assert_eq!(d.department, "civil_affairs");
    let f = &d.files[0];
    assert_eq!(
        (f.rows_read, f.rows_loaded, f.rows_rejected, f.rows_flagged),
        (8, 2, 6, 1)
    );
    assert!(report.balanced);
    assert_eq!(
        rejects(&wh),
        [
            "mca-1,civil_affairs.csv,3,id.checksum,id_number,error",
            "mca-1,civil_affairs.csv,4,register.county_unknown,county_code,error",
            "mca-1,civil_affairs.csv,5,value.format,start_date,error",
            "mca-1,civil_affairs.csv,6,register.date_after_reference,start_date,warning",
            "mca-1,civil_affairs.csv,7,register.date_order,end_date,error",
            "mca-1,civil_affairs.csv,8,value.code,assistance_type,error",
            "mca-1,civil_affairs.csv,9,value.required,county_code,error",
        ]
    );
    // The loaded rows keep their line, and their province is the county's.
    assert_eq!(
        sql(
            &wh,
            "SELECT source_line, province_code, county_code FROM register_civil_affairs ORDER BY 1",
            &[],
            &[]
        ),
        "source_line,province_code,county_code\n2,52,522726\n6,52,522726\n"
    );
}

#[test]
fn dangerous_houses_of_grade_a_or_b_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!(
        "id_number,county_code,grade,appraisal_date\n{},522726,B,2019-01-01\n{},522726,D,2019-01-01\n",
        id(522726, (1950, 1, 1), 11),
        id(522726, (1950, 1, 2), 11)
    );
    let sub = department(
        dir.path(),
        "housing",
        "mohurd-1",
        &[("dangerous_housing.csv", &csv)],
    );
    let wh = dir.path().join("wh").display().to_string();
    let (_, report) = ingest_json(&[sub.to_str().unwrap(), "--warehouse", &wh], &[]);
    let f = &report.departments[0].files[0];
    assert_eq!((f.rows_read, f.rows_loaded, f.rows_rejected), (2, 1, 1));
    assert_eq!(
        rejects(&wh),
        ["mohurd-1,dangerous_housing.csv,2,register.grade,grade,error"]
    );
    // The department's other register is there, empty.
    assert_eq!(
        sql(
            &wh,
            "SELECT count(*) AS n FROM register_urban_property",
            &[],
            &[]
        ),
        "n\n0\n"
    );
}

#[test]
fn an_unknown_department_is_a_clear_manifest_error() {
    let dir = tempfile::tempdir().unwrap();
    let sub = department(
        dir.path(),
        "police",
        "x-1",
        &[("deaths.csv", "id_number,county_code,death_date\n")],
    );
    let wh = dir.path().join("wh").display().to_string();
    let o = povcensus(&["ingest", sub.to_str().unwrap(), "--warehouse", &wh]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("department `police` is not one of the departments")
            && out.contains("manifest.invalid"),
        "{out}"
    );
}

#[test]
fn a_manifest_without_province_or_department_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("x");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join("manifest.json"),
        r#"{"submission_id": "x-1", "files": {}}"#,
    )
    .unwrap();
    let wh = dir.path().join("wh").display().to_string();
    let o = povcensus(&["ingest", sub.to_str().unwrap(), "--warehouse", &wh]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("names neither a `province_code`") && out.contains("manifest.invalid"),
        "{out}"
    );
}

#[test]
fn a_file_of_another_department_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = department(
        dir.path(),
        "finance",
        "mof-1",
        &[("deaths.csv", "id_number,county_code,death_date\n")],
    );
    let wh = dir.path().join("wh").display().to_string();
    let (code, report) = ingest_json(&[sub.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!(code, Some(1));
    let d = &report.departments[0];
    assert_eq!(d.status, povcensus::ingest::report::Status::Rejected);
    assert!(
        d.problems[0].contains("`deaths.csv`, which is not a register file of department finance")
            && d.problems[0].contains("public_employees.csv"),
        "{:?}",
        d.problems
    );
    assert_eq!(report.snapshot, None, "nothing is committed");
}

fn deaths(n: u16) -> String {
    let mut csv = "身份证号,所在县,死亡日期\n".to_string();
    for i in 0..n {
        csv.push_str(&format!(
            "{},522726,2020-12-31\n",
            id(522726, (1930, 1, 1), 100 + i)
        ));
    }
    csv
}

#[test]
fn a_resubmission_replaces_the_register_and_the_same_bytes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh").display().to_string();
    let first = department(
        &dir.path().join("a"),
        "public_security",
        "mps-1",
        &[
            ("deaths.csv", &deaths(3)),
            (
                "vehicles.csv",
                "id_number,county_code,vehicle_type,registration_date\n",
            ),
        ],
    );
    let (code, r1) = ingest_json(&[first.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!(
        (code, r1.snapshot),
        (Some(0), Some(1)),
        "Chinese headers load"
    );
    let (_, again) = ingest_json(&[first.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!(
        again.snapshot, None,
        "the same bytes are the same submission"
    );
    assert_eq!(
        again.departments[0].status,
        povcensus::ingest::report::Status::Unchanged
    );
    let second = department(
        &dir.path().join("b"),
        "public_security",
        "mps-2",
        &[("deaths.csv", &deaths(1))],
    );
    let (_, r2) = ingest_json(&[second.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!(r2.snapshot, Some(2));
    assert_eq!(r2.departments[0].version, Some(2));
    let count = "SELECT count(*) AS n FROM register_deaths";
    assert_eq!(sql(&wh, count, &[], &[]), "n\n1\n");
    assert_eq!(sql(&wh, count, &["--as-of", "1"], &[]), "n\n3\n");
}

#[test]
fn registers_and_provinces_load_in_one_command_and_registers_alone() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh").display().to_string();
    let province = fixture_copy(&dir.path().join("p"));
    // GB18030, declared in the manifest.
    let csv = deaths(2);
    let dept = department(&dir.path().join("r"), "public_security", "mps-1", &[]);
    let (gb, _, _) = encoding_rs::GB18030.encode(&csv);
    std::fs::write(dept.join("deaths.csv"), &gb).unwrap();
    std::fs::write(
        dept.join("manifest.json"),
        r#"{"department": "public_security", "submission_id": "mps-1", "encoding": "gb18030",
            "files": {"deaths.csv": {"rows": 2}}}"#,
    )
    .unwrap();
    let (_, report) = ingest_json(
        &[
            province.to_str().unwrap(),
            dept.to_str().unwrap(),
            "--warehouse",
            &wh,
        ],
        &[],
    );
    assert_eq!(report.provinces.len(), 1);
    assert_eq!(
        report.departments[0].files[0].encoding.as_deref(),
        Some("gb18030")
    );
    assert_eq!(report.departments[0].rows_loaded, 2);
    assert_eq!(
        sql(&wh, "SELECT count(*) AS n FROM register_deaths", &[], &[]),
        "n\n2\n"
    );
    // A warehouse of registers only: the census tables are empty, the registers query.
    let wh2 = dir.path().join("wh2").display().to_string();
    let (code, _) = ingest_json(&[dept.to_str().unwrap(), "--warehouse", &wh2], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        sql(
            &wh2,
            "SELECT count(*) AS n FROM register_deaths d JOIN persons p ON p.person_id = d.id_number",
            &[],
            &[]
        ),
        "n\n0\n"
    );
}

/// Generate provinces with their registers into `out`.
fn generate(out: &Path, provinces: &[&str], errors: f64, registers: bool) {
    let mut o = povcensus::generator::GenerateOptions::new(out);
    o.scale = 0.002;
    o.seed = 7;
    o.provinces = Some(provinces.iter().map(|s| s.to_string()).collect());
    o.error_rate = errors;
    o.registers = registers;
    povcensus::generator::generate(&o).unwrap();
}

/// The independent DuckDB recount of every matching rule against the ground truth.
fn recount(out: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/registers_recount.py");
    let o = std::process::Command::new(crate::support::python())
        .arg(script)
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The ground truth's rows.
fn truth(out: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(out.join("registers/ground_truth_matching.csv")).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "rule_id",
            "county_code",
            "household_id",
            "person_id",
            "register_file",
            "register_line"
        ]
    );
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn clean_generated_registers_ingest_without_rejects_and_recount_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    generate(&out, &["52"], 0.0, true);
    let wh = dir.path().join("wh").display().to_string();
    let (code, report) = ingest_json(&[out.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!(code, Some(0), "clean data loads whole");
    assert_eq!(report.departments.len(), 8);
    assert_eq!(report.rows_rejected, 0);
    assert!(report.balanced);
    for d in &report.departments {
        assert!(d.rules.is_empty(), "{}: {:?}", d.department, d.rules);
        assert!(d.rows_loaded > 0, "{}", d.department);
    }
    let audit = recount(&out);
    assert_eq!(audit["missing"], serde_json::json!([]), "{audit}");
    assert_eq!(audit["extra"], serde_json::json!([]), "{audit}");
    // Clean registers agree with the census: the only findings are the persons on 低保 in a
    // poverty county who are on no roster.
    let rules: Vec<&String> = audit["by_rule"].as_object().unwrap().keys().collect();
    assert_eq!(rules, ["match.missed_assistance"], "{audit}");
    assert_eq!(audit["truth"], audit["recount"]);
    // Registers about 1.5 times the census persons.
    let persons = std::fs::read_to_string(out.join("52/persons.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let rows = report.departments.iter().map(|d| d.rows_read).sum::<u64>() as f64;
    let ratio = rows / persons as f64;
    assert!((1.3..2.5).contains(&ratio), "registers / persons = {ratio}");
}

#[test]
fn planted_registers_have_every_rule_and_recount_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    generate(&out, &["52", "62"], 0.02, true);
    let audit = recount(&out);
    assert_eq!(audit["missing"], serde_json::json!([]), "{audit}");
    assert_eq!(audit["extra"], serde_json::json!([]), "{audit}");
    for rule in crate::support::MATCH_RULES {
        assert!(
            audit["by_rule"][rule].as_u64().unwrap_or(0) > 0,
            "{rule} is never planted: {audit}"
        );
    }
}

/// The line of each row of a generated register whose `column` is `value`.
fn lines_with(out: &Path, file: &str, column: &str, value: &str) -> Vec<String> {
    let dept = povcensus::contract::registers::Register::from_file_name(file)
        .unwrap()
        .department();
    let mut r = csv::Reader::from_path(out.join("registers").join(dept.id()).join(file)).unwrap();
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[i] == value)
        .map(|x| x.position().unwrap().line().to_string())
        .collect()
}

#[test]
fn planted_registers_hold_the_boundary_cases_of_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    generate(&out, &["52"], 0.02, true);
    let truth = truth(&out);
    let found = |file: &str, line: &str| truth.iter().any(|t| t[4] == file && t[5] == line);
    let on_reference = lines_with(&out, "deaths.csv", "death_date", "2020-12-31");
    assert!(!on_reference.is_empty());
    assert!(
        on_reference.iter().all(|l| found("deaths.csv", l)),
        "a death on the reference date is a finding"
    );
    let ten = lines_with(&out, "businesses.csv", "registered_capital", "10");
    assert!(
        !ten.is_empty() && ten.iter().all(|l| found("businesses.csv", l)),
        "capital of exactly 10 万元"
    );
    let below = lines_with(&out, "businesses.csv", "registered_capital", "9.99");
    assert!(!below.is_empty() && below.iter().all(|l| !found("businesses.csv", l)));
    let type3 = lines_with(&out, "vehicles.csv", "vehicle_type", "3");
    assert!(
        !type3.is_empty() && type3.iter().all(|l| !found("vehicles.csv", l)),
        "type 3 is a motorcycle"
    );
    // Children aged 5 and 16 with 辍学 records are no findings; 6 and 15 are (the recount
    // checks each row against the ages in persons.csv).
    assert!(truth.iter().any(|t| t[0] == "match.schooling"));
}

#[test]
fn registers_are_deterministic_and_leave_the_census_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    generate(&a, &["52"], 0.02, true);
    generate(&b, &["52"], 0.02, true);
    generate(&c, &["52"], 0.02, false);
    let files_a = crate::generate::all_files(&a);
    assert_eq!(
        files_a,
        crate::generate::all_files(&b),
        "same seed, same bytes"
    );
    let census: std::collections::BTreeMap<_, _> = files_a
        .into_iter()
        .filter(|(k, _)| !k.starts_with("registers"))
        .collect();
    assert_eq!(
        census,
        crate::generate::all_files(&c),
        "the census does not change"
    );
}

#[test]
fn a_crash_before_the_commit_leaves_no_register_version_and_a_rerun_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh").display().to_string();
    let sub = department(
        dir.path(),
        "public_security",
        "mps-1",
        &[("deaths.csv", &deaths(2))],
    );
    let env = [(
        "POVCENSUS_FAILPOINT".to_string(),
        "before-commit".to_string(),
    )];
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_povcensus"));
    c.args(["ingest", sub.to_str().unwrap(), "--warehouse", &wh]);
    for (k, v) in &env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(!o.status.success(), "the failpoint aborts");
    let versions = povcensus(&["versions", "--warehouse", &wh]);
    assert!(!text(&versions).contains("mps-1"), "{}", text(&versions));
    let (code, report) = ingest_json(&[sub.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert_eq!((code, report.snapshot), (Some(0), Some(1)));
    let versions = povcensus(&["versions", "--warehouse", &wh]);
    assert!(
        text(&versions).contains("public_security"),
        "{}",
        text(&versions)
    );
    assert_eq!(
        sql(&wh, "SELECT count(*) AS n FROM register_deaths", &[], &[]),
        "n\n2\n"
    );
}

#[test]
fn one_department_given_twice_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = department(&dir.path().join("a"), "finance", "mof-1", &[]);
    let b = department(&dir.path().join("b"), "finance", "mof-2", &[]);
    let wh = dir.path().join("wh").display().to_string();
    let o = povcensus(&[
        "ingest",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--warehouse",
        &wh,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("department finance is given twice"),
        "{}",
        text(&o)
    );
}

/// `match_findings` of `povcensus run matching` over the ingested warehouse, as ground-truth
/// rows (the identifying columns; NULL as an empty field), sorted.
fn pipeline_findings(out: &Path, wh: &str) -> Vec<Vec<String>> {
    let run = out.join("matching");
    let o = povcensus(&[
        "run",
        "matching",
        "--warehouse",
        wh,
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mut r = csv::Reader::from_path(run.join("match_findings.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let cols: Vec<usize> = [
        "rule_id",
        "county_code",
        "household_id",
        "person_id",
        "register_file",
        "register_line",
    ]
    .iter()
    .map(|c| headers.iter().position(|h| h == *c).unwrap())
    .collect();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            cols.iter().map(|&i| x[i].to_string()).collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Generate, ingest everything, run the matching pipeline: its findings equal the generator's
/// ground truth exactly, rule by rule.
fn findings_equal_the_ground_truth(errors: f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    generate(&out, &["52", "62"], errors, true);
    let wh = dir.path().join("wh").display().to_string();
    let (code, report) = ingest_json(&[out.to_str().unwrap(), "--warehouse", &wh], &[]);
    assert!(code.is_some(), "ingest ran");
    assert_eq!(report.departments.len(), 8);
    assert!(report.balanced);
    let got = pipeline_findings(dir.path(), &wh);
    let mut want = truth(&out);
    want.sort();
    assert!(!want.is_empty(), "the ground truth has findings");
    let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(10).collect();
    let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} findings, {} in the truth; missing {missing:?}; extra {extra:?}",
        got.len(),
        want.len()
    );
    assert_eq!(got, want);
}

#[test]
fn matching_findings_equal_the_ground_truth_on_clean_registers() {
    findings_equal_the_ground_truth(0.0);
}

#[test]
fn matching_findings_equal_the_ground_truth_on_planted_registers() {
    findings_equal_the_ground_truth(0.02);
}
