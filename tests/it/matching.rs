//! The matching pipeline end to end (`povcensus run matching`, `povcensus report`) over the
//! sample census with registers committed through the warehouse API
//! ([`crate::support::commit_registers`]): every register is generated here from the loaded
//! census with planted cases on both sides of each rule's boundary, plus rows of persons on no
//! roster, and the expected findings are worked out here, case by case, as they are planted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use povcensus::contract::registers::Register;

use crate::ingest::{ingest_sample, povcensus, povcensus_env, sql, text};
use crate::support::{Rv, commit_registers, csv_records, files_below};

const REF: &str = "2020-12-31";
const AFTER: &str = "2021-01-01";

/// A loaded census member of an enumerated household.
struct Member {
    id: String,
    household: String,
    county: String,
    age: i32,
    schooling: Option<i16>,
    health: i16,
    grade: Option<i16>,
    insurance: i16,
}

/// An expected finding: rule, county, household, person, register file and line (empty for
/// "none"), as the CSV output writes them.
type Finding = [String; 6];

/// Completed years on 2020-12-31.
fn age(birth: &str) -> i32 {
    let y: i32 = birth[..4].parse().unwrap();
    let md = &birth[5..];
    (2020 - y) - i32::from(md > "12-31")
}

fn opt(v: &str) -> Option<i16> {
    (!v.is_empty()).then(|| v.parse().unwrap())
}

fn members(wh: &str) -> Vec<Member> {
    let q = "SELECT p.person_id, p.household_id, CAST(p.birth_date AS VARCHAR) AS birth, \
             p.schooling_status, p.health_status, p.disability_grade, p.medical_insurance \
             FROM persons p JOIN households h ON h.household_id = p.household_id \
             WHERE h.enumeration_status = 1 ORDER BY p.person_id";
    csv_records(&sql(wh, q, &[], &[]))
        .into_iter()
        .map(|r| Member {
            id: r["person_id"][..18].to_string(),
            household: r["household_id"].clone(),
            county: r["household_id"][..6].to_string(),
            age: age(&r["birth"]),
            schooling: opt(&r["schooling_status"]),
            health: r["health_status"].parse().unwrap(),
            grade: opt(&r["disability_grade"]),
            insurance: r["medical_insurance"].parse().unwrap(),
        })
        .collect()
}

/// Registers with planted cases, and the findings they must give.
struct Planted {
    registers: BTreeMap<Register, Vec<Vec<Rv>>>,
    expected: Vec<Finding>,
    /// County → county_type.
    counties: BTreeMap<String, i16>,
}

impl Planted {
    /// Add a register row; returns its line in the register file.
    fn row(&mut self, r: Register, values: Vec<Rv>) -> usize {
        let rows = self.registers.entry(r).or_default();
        rows.push(values);
        rows.len() + 1
    }

    fn expect(
        &mut self,
        rule: &str,
        county: &str,
        hh: &str,
        person: &str,
        file: &str,
        line: usize,
    ) {
        let line = if file.is_empty() {
            String::new()
        } else {
            line.to_string()
        };
        self.expected.push([
            rule.into(),
            county.into(),
            hh.into(),
            person.into(),
            file.into(),
            line,
        ]);
    }
}

fn s(v: &str) -> Rv {
    Rv::S(v.to_string())
}
fn d(v: &str) -> Rv {
    Rv::D(v.to_string())
}

/// The person-level registers: deaths, vehicles, businesses, employees, urban property.
fn plant_identification(p: &mut Planted, i: usize, m: &Member) {
    let (id, c, hh) = (s(&m.id), s(&m.county), m.household.as_str());
    let hit = |p: &mut Planted, rule: &str, r: Register, row: Vec<Rv>, found: bool| {
        let line = p.row(r, row);
        if found {
            p.expect(rule, &m.county, hh, &m.id, r.file_name(), line);
        }
    };
    let death = |date: &str| vec![id.clone(), c.clone(), d(date)];
    match i % 97 {
        0 => hit(p, "match.deceased", Register::Deaths, death(REF), true),
        1 => hit(p, "match.deceased", Register::Deaths, death(AFTER), false),
        _ => {}
    }
    let car = |t: i16, date: &str| vec![id.clone(), c.clone(), Rv::I(t), d(date)];
    match i % 89 {
        3 => hit(p, "match.vehicle", Register::Vehicles, car(1, REF), true),
        4 => hit(
            p,
            "match.vehicle",
            Register::Vehicles,
            car(2, "2019-05-03"),
            true,
        ),
        5 => hit(
            p,
            "match.vehicle",
            Register::Vehicles,
            car(3, "2019-05-03"),
            false,
        ),
        6 => hit(p, "match.vehicle", Register::Vehicles, car(1, AFTER), false),
        _ => {}
    }
    let firm = |capital: f64, status: i16| {
        let role = Rv::I(1 + (i % 2) as i16);
        vec![
            id.clone(),
            c.clone(),
            role,
            Rv::F(capital),
            Rv::I(status),
            d("2015-01-01"),
        ]
    };
    match i % 83 {
        7 => hit(
            p,
            "match.business",
            Register::Businesses,
            firm(10.0, 1),
            true,
        ),
        8 => hit(
            p,
            "match.business",
            Register::Businesses,
            firm(9.99, 1),
            false,
        ),
        9 => hit(
            p,
            "match.business",
            Register::Businesses,
            firm(50.0, 2),
            false,
        ),
        _ => {}
    }
    let job = |date: &str| vec![id.clone(), c.clone(), Rv::I(2), d(date)];
    match i % 79 {
        10 => hit(
            p,
            "match.public_employee",
            Register::PublicEmployees,
            job(REF),
            true,
        ),
        11 => hit(
            p,
            "match.public_employee",
            Register::PublicEmployees,
            job(AFTER),
            false,
        ),
        _ => {}
    }
    let flat = |date: &str| vec![id.clone(), c.clone(), d(date), Rv::F(88.5)];
    match i % 73 {
        12 => hit(
            p,
            "match.urban_property",
            Register::UrbanProperty,
            flat(REF),
            true,
        ),
        13 => hit(
            p,
            "match.urban_property",
            Register::UrbanProperty,
            flat(AFTER),
            false,
        ),
        _ => {}
    }
}

/// Students, medical insurance and disability: the consistency rules.
fn plant_consistency(p: &mut Planted, i: usize, m: &Member) {
    let (id, c, hh) = (s(&m.id), s(&m.county), m.household.as_str());
    let child = (6..=15).contains(&m.age);
    let student = |status: i16| vec![id.clone(), c.clone(), Rv::I(2), Rv::I(status)];
    // (record status, whether it is a finding); aged 5 or 16, a dropout record is none.
    let record = match (child, m.schooling) {
        (true, Some(1)) if i.is_multiple_of(5) => Some((3, true)),
        (true, Some(4)) => Some((1, true)),
        (true, _) => Some((1, false)),
        (false, _) if m.age == 5 || m.age == 16 => Some((3, false)),
        _ => None,
    };
    if let Some((status, found)) = record {
        let line = p.row(Register::Students, student(status));
        if found {
            let file = "students.csv";
            p.expect("match.schooling", &m.county, hh, &m.id, file, line);
        }
    }
    let enrolment = |year: i16| vec![id.clone(), c.clone(), Rv::I(1), Rv::I(year), Rv::I(1)];
    match (m.insurance, i % 71) {
        (1..=3, 14) => p.expect("match.medical_insurance", &m.county, hh, &m.id, "", 0),
        (1..=3, 15) => {
            p.row(Register::MedicalInsurance, enrolment(2019));
            p.expect("match.medical_insurance", &m.county, hh, &m.id, "", 0);
        }
        (1..=3, _) => {
            p.row(Register::MedicalInsurance, enrolment(2020));
        }
        (_, k) if k.is_multiple_of(2) => {
            let line = p.row(Register::MedicalInsurance, enrolment(2020));
            let file = "medical_insurance.csv";
            p.expect("match.medical_insurance", &m.county, hh, &m.id, file, line);
        }
        _ => {}
    }
    let card = |grade: i16| {
        vec![
            id.clone(),
            c.clone(),
            Rv::I(1),
            Rv::I(grade),
            d("2016-01-01"),
        ]
    };
    match (m.health, i % 61) {
        (4, 16) => p.expect("match.disability", &m.county, hh, &m.id, "", 0),
        (4, _) => {
            p.row(Register::Disability, card(m.grade.unwrap_or(3)));
        }
        (_, 17) => {
            let line = p.row(Register::Disability, card(2));
            p.expect(
                "match.disability",
                &m.county,
                hh,
                &m.id,
                "disability.csv",
                line,
            );
        }
        (_, 18) => {
            p.row(Register::Disability, card(3));
        }
        _ => {}
    }
    if i % 59 == 19 {
        // On 低保 and on the roster: no finding.
        p.row(
            Register::CivilAffairs,
            vec![id, c, Rv::I(1), d("2019-01-01"), Rv::Null],
        );
    }
}

/// Dangerous-housing appraisals of household heads.
fn plant_housing(p: &mut Planted, wh: &str) {
    let q = "SELECT household_id, head_id_number, housing_route FROM households \
             WHERE enumeration_status = 1 ORDER BY household_id";
    for (k, h) in csv_records(&sql(wh, q, &[], &[])).iter().enumerate() {
        let county = &h["household_id"][..6];
        let head = &h["head_id_number"][..18];
        let row = |grade: &str, date: &str| vec![s(head), s(county), s(grade), d(date)];
        let safe = h["housing_route"] == "1";
        match k % 53 {
            0 => {
                let line = p.row(Register::DangerousHousing, row("D", REF));
                if safe {
                    let file = "dangerous_housing.csv";
                    p.expect("match.housing", county, &h["household_id"], "", file, line);
                }
            }
            1 => {
                p.row(Register::DangerousHousing, row("C", AFTER));
            }
            _ => {}
        }
    }
}

/// Rows of persons on no roster in every county: in every register one that matches nobody,
/// and 低保 / 特困 recipients (found missed in the poverty counties only).
fn plant_off_roster(p: &mut Planted, roster: &BTreeSet<String>) {
    let counties: Vec<(String, i16)> = p.counties.clone().into_iter().collect();
    for (n, (county, kind)) in counties.iter().enumerate() {
        let other = |k: usize| {
            let id = format!("{county}1990{:08}", n * 10 + k);
            assert!(!roster.contains(&id));
            id
        };
        let c = s(county);
        let nobody = |k: usize| s(&other(k));
        p.row(
            Register::Deaths,
            vec![nobody(0), c.clone(), d("2020-03-01")],
        );
        p.row(
            Register::Vehicles,
            vec![nobody(0), c.clone(), Rv::I(1), d("2019-01-01")],
        );
        let firm = vec![
            nobody(0),
            c.clone(),
            Rv::I(1),
            Rv::F(99.0),
            Rv::I(1),
            d("2019-01-01"),
        ];
        p.row(Register::Businesses, firm);
        p.row(
            Register::PublicEmployees,
            vec![nobody(0), c.clone(), Rv::I(1), d("2010-01-01")],
        );
        p.row(
            Register::UrbanProperty,
            vec![nobody(0), c.clone(), d("2019-01-01"), Rv::F(70.0)],
        );
        p.row(
            Register::Students,
            vec![nobody(0), c.clone(), Rv::I(1), Rv::I(3)],
        );
        let insured = vec![nobody(0), c.clone(), Rv::I(1), Rv::I(2020), Rv::I(1)];
        p.row(Register::MedicalInsurance, insured);
        let card = vec![nobody(0), c.clone(), Rv::I(1), Rv::I(1), d("2016-01-01")];
        p.row(Register::Disability, card);
        p.row(
            Register::DangerousHousing,
            vec![nobody(0), c.clone(), s("D"), d(REF)],
        );
        let poverty = *kind == 1 || *kind == 2;
        let dibao = |p: &mut Planted, k: usize, t: i16, start: &str, end: Option<&str>, found| {
            let id = other(k);
            let end = end.map_or(Rv::Null, d);
            let line = p.row(
                Register::CivilAffairs,
                vec![s(&id), c.clone(), Rv::I(t), d(start), end],
            );
            if found && poverty {
                p.expect(
                    "match.missed_assistance",
                    county,
                    "",
                    &id,
                    "civil_affairs.csv",
                    line,
                );
            }
        };
        dibao(p, 1, 1, "2019-01-01", None, true);
        dibao(p, 2, 1, "2019-01-01", Some(REF), false);
        dibao(p, 3, 2, REF, Some(AFTER), true);
        dibao(p, 4, 1, AFTER, None, false);
    }
}

/// The sample census with every register planted; returns the warehouse and the plan.
fn warehouse_with_registers(dir: &Path) -> (String, Planted, Vec<Member>) {
    let wh = ingest_sample(dir);
    let counties = csv_records(&sql(
        &wh,
        "SELECT county_code, county_type FROM counties",
        &[],
        &[],
    ))
    .into_iter()
    .map(|r| (r["county_code"].clone(), r["county_type"].parse().unwrap()))
    .collect();
    let mut p = Planted {
        registers: BTreeMap::new(),
        expected: Vec::new(),
        counties,
    };
    let members = members(&wh);
    for (i, m) in members.iter().enumerate() {
        plant_identification(&mut p, i, m);
        plant_consistency(&mut p, i, m);
    }
    plant_housing(&mut p, &wh);
    let roster: BTreeSet<String> = members.iter().map(|m| m.id.clone()).collect();
    plant_off_roster(&mut p, &roster);
    let registers: Vec<(Register, Vec<Vec<Rv>>)> = p
        .registers
        .iter()
        .map(|(r, rows)| (*r, rows.clone()))
        .collect();
    commit_registers(&wh, &registers);
    (wh, p, members)
}

/// The identifying columns of a finding (those the generator's ground truth holds).
fn finding_key(r: &BTreeMap<String, String>) -> Finding {
    [
        "rule_id",
        "county_code",
        "household_id",
        "person_id",
        "register_file",
        "register_line",
    ]
    .map(|c| r[c].clone())
}

/// The sample census with planted registers, matched into `out` (kept while this lives).
struct Matched {
    _dir: tempfile::TempDir,
    wh: String,
    planted: Planted,
    members: Vec<Member>,
    out: PathBuf,
}

fn matched() -> Matched {
    let dir = tempfile::tempdir().unwrap();
    let (wh, planted, members) = warehouse_with_registers(dir.path());
    let out = dir.path().join("out");
    run_matching(&wh, &out);
    Matched {
        _dir: dir,
        wh,
        planted,
        members,
        out,
    }
}

fn run_matching(wh: &str, out: &Path) {
    let o = povcensus(&[
        "run",
        "matching",
        "--warehouse",
        wh,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

fn findings(out: &Path) -> Vec<BTreeMap<String, String>> {
    csv_records(&std::fs::read_to_string(out.join("match_findings.csv")).unwrap())
}

#[test]
fn findings_equal_the_planted_cases_rule_by_rule() {
    let m = matched();
    let (planted, out) = (&m.planted, &m.out);
    let rows = findings(out);
    let mut got: Vec<Finding> = rows.iter().map(finding_key).collect();
    got.sort();
    let mut want = planted.expected.clone();
    want.sort();
    for rule in crate::support::MATCH_RULES {
        let of = |v: &[Finding]| {
            v.iter()
                .filter(|f| f[0] == rule)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(!of(&want).is_empty(), "{rule}: the sample plants no case");
        assert_eq!(of(&got), of(&want), "{rule}");
    }
    assert_eq!(got.len(), want.len());
    // Every finding says what the register says, and its department.
    for r in &rows {
        assert!(!r["detail"].is_empty());
        assert!(!r["department"].is_empty());
    }
}

#[test]
fn matching_is_deterministic_to_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, _, _) = warehouse_with_registers(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_matching(&wh, &a);
    run_matching(&wh, &b);
    for f in [
        "match_findings.csv",
        "match_findings.parquet",
        "match_summary.csv",
        "match_summary.parquet",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// Runs matching through the library with every kept result in a scratch file
/// (`kept_memory` 0), as a national run keeps its findings.
fn run_matching_on_disk(wh: &str, out: &Path, spill: &Path) {
    use povcensus::pipeline::{Definitions, Pipeline};
    let pipeline = Pipeline::resolve("matching", &Definitions::new(None), &[]).unwrap();
    let engine = povcensus::engine::EngineConfig {
        kept_memory: 0,
        spill_dir: Some(spill.to_path_buf()),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let wh = povcensus::warehouse::Warehouse::open(wh, false).unwrap();
        let snapshot = wh.snapshot_as_of(None).await.unwrap();
        povcensus::pipeline::run_into(&pipeline, &wh, snapshot.as_ref(), out, &engine)
            .await
            .unwrap();
    });
}

#[test]
fn results_kept_on_disk_give_the_same_bytes_as_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, _, _) = warehouse_with_registers(dir.path());
    let (memory, disk, spill) = (
        dir.path().join("memory"),
        dir.path().join("disk"),
        dir.path().join("spill"),
    );
    run_matching(&wh, &memory);
    run_matching_on_disk(&wh, &disk, &spill);
    for f in [
        "match_findings.csv",
        "match_findings.parquet",
        "match_summary.csv",
        "match_summary.parquet",
    ] {
        assert!(
            std::fs::read(memory.join(f)).unwrap() == std::fs::read(disk.join(f)).unwrap(),
            "{f} differs when the kept results are on disk"
        );
    }
    // The scratch files went with the run.
    assert_eq!(files_below(&spill), Vec::<PathBuf>::new());
}

#[test]
fn summary_counts_the_planted_findings_of_the_poverty_counties() {
    let m = matched();
    let (planted, members, out) = (&m.planted, &m.members, &m.out);
    let summary = csv_records(&std::fs::read_to_string(out.join("match_summary.csv")).unwrap());
    let npc = |county: &str| matches!(planted.counties.get(county), Some(1 | 2));
    let national = |rule: &str| {
        summary
            .iter()
            .find(|r| r["scope"] == "npc" && r["level"] == "national" && r["rule_id"] == rule)
            .unwrap_or_else(|| panic!("no npc national row for {rule}"))
    };
    let persons = members.iter().filter(|m| npc(&m.county)).count();
    let children = members
        .iter()
        .filter(|m| npc(&m.county) && (6..=15).contains(&m.age))
        .count();
    for (rule, checked) in [("match.deceased", persons), ("match.schooling", children)] {
        let flagged: BTreeSet<&str> = planted
            .expected
            .iter()
            .filter(|f| f[0] == rule && npc(&f[1]))
            .map(|f| f[3].as_str())
            .collect();
        let row = national(rule);
        assert_eq!(
            row["checked"].parse::<f64>().unwrap(),
            checked as f64,
            "{rule}"
        );
        assert_eq!(
            row["flagged"].parse::<f64>().unwrap(),
            flagged.len() as f64,
            "{rule}"
        );
        let rate: f64 = row["rate_per_1000"].parse().unwrap();
        assert!((rate - 1000.0 * flagged.len() as f64 / checked as f64).abs() < 1e-9);
    }
    // Accuracy: a share, and no row divides by zero.
    let acc: f64 = national("accuracy.identification")["accuracy_pct"]
        .parse()
        .unwrap();
    assert!(acc > 50.0 && acc < 100.0, "{acc}");
    assert!(
        summary
            .iter()
            .all(|r| r["checked"].parse::<f64>().unwrap() > 0.0)
    );
}

/// Every document file under `out`, as text (workbooks as their cells, read with openpyxl).
fn document_texts(out: &Path) -> Vec<(PathBuf, String)> {
    let files = files_below(out);
    let xlsx: Vec<PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
        .map(|p| p.strip_prefix(out).unwrap().to_path_buf())
        .collect();
    let mut texts: Vec<(PathBuf, String)> = files
        .iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "html" || e == "csv" || e == "json")
        })
        .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap()))
        .collect();
    texts.push((
        out.join("*.xlsx"),
        crate::report::dump_xlsx(out, &xlsx).to_string(),
    ));
    texts
}

#[test]
fn report_writes_verification_lists_without_id_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, planted, members) = warehouse_with_registers(dir.path());
    let out = dir.path().join("reports");
    let o = crate::matrix::report_into(
        &wh,
        &out,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("href=\"matching/index.html\""));
    let national = std::fs::read_to_string(out.join("matching/index.html")).unwrap();
    assert!(national.contains("<svg") && national.contains("识别准确率"));
    // It names the register submissions it matched against.
    assert!(
        national.contains("比对所用部门登记") && national.contains("civil_affairs-test（第 1 版）")
    );
    // One list per county with findings, linked from the index, with its households.
    let counties: BTreeSet<&str> = planted.expected.iter().map(|f| f[1].as_str()).collect();
    for c in &counties {
        let href = format!("matching/lists/{c}.html");
        assert!(index.contains(&href), "{href}");
        assert!(out.join(format!("matching/lists/{c}.xlsx")).is_file());
        let list = std::fs::read_to_string(out.join(&href)).unwrap();
        let rows = planted.expected.iter().filter(|f| f[1] == *c);
        for f in rows.filter(|f| !f[2].is_empty()) {
            assert!(list.contains(&f[2]), "{href} lacks household {}", f[2]);
        }
    }
    // The workbook of a list holds its findings, one row each under the header.
    let c = planted.expected[0][1].clone();
    let xlsx = format!("matching/lists/{c}.xlsx");
    let x = crate::report::dump_xlsx(&out, &[PathBuf::from(&xlsx)]);
    let rows = x[xlsx.as_str()]["疑点核查清单"]["rows"].as_array().unwrap();
    let want = planted.expected.iter().filter(|f| f[1] == c).count();
    assert_eq!(rows.len() - 1, want, "{xlsx}");
    // The findings themselves stay out of the report folder.
    assert!(!out.join("data/matching/match_findings.csv").exists());
    assert!(out.join("data/matching/match_summary.csv").is_file());
    // No ID number anywhere: not of a member, not of a register row.
    let mut ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    ids.extend(
        planted
            .expected
            .iter()
            .map(|f| f[3].clone())
            .filter(|s| !s.is_empty()),
    );
    let finder = aho_corasick::AhoCorasick::new(&ids).unwrap();
    for (path, text) in document_texts(&out) {
        assert!(
            finder.find(text.as_str()).is_none(),
            "{} shows an ID number",
            path.display()
        );
    }
    // The evaluator's county pages show the census-wide matching beside the sample.
    let evaluator: Vec<PathBuf> = files_below(&out.join("evaluator"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "html") && !p.ends_with("index.html"))
        .collect();
    assert!(!evaluator.is_empty());
    for p in evaluator {
        let page = std::fs::read_to_string(&p).unwrap();
        assert!(
            page.contains("部门数据比对（普查全面比对）"),
            "{}",
            p.display()
        );
    }
}

#[test]
fn without_registers_the_report_says_so_and_writes_no_matching_page() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("reports");
    let o = povcensus_env(
        &["report", "--warehouse", &wh, "--out", out.to_str().unwrap()],
        &[("RUST_LOG".into(), "info".into())],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no departmental registers"));
    assert!(!out.join("matching").exists());
    assert!(!out.join("data/matching").exists());
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!index.contains("部门数据比对"));
}

#[test]
fn registers_without_a_census_give_no_finding_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh").display().to_string();
    let row = vec![
        s("450421199001010012"),
        s("450421"),
        Rv::I(1),
        d("2019-01-01"),
        Rv::Null,
    ];
    commit_registers(&wh, &[(Register::CivilAffairs, vec![row])]);
    let out = dir.path().join("out");
    run_matching(&wh, &out);
    assert!(findings(&out).is_empty());
    let summary = csv_records(&std::fs::read_to_string(out.join("match_summary.csv")).unwrap());
    assert!(summary.is_empty());
    // The run records the registers it read.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
    let departments = manifest["departments"].as_object().unwrap();
    assert_eq!(departments.keys().collect::<Vec<_>>(), ["civil_affairs"]);
}

#[test]
fn research_extracts_never_contain_findings_or_registers() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, planted, _) = warehouse_with_registers(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "a key for the matching test\n").unwrap();
    let out = dir.path().join("extract");
    let o = crate::extract::extract(&wh, &out, &key);
    assert!(o.status.success(), "{}", text(&o));
    let ids: Vec<String> = planted
        .expected
        .iter()
        .filter(|f| f[0] == "match.missed_assistance")
        .map(|f| f[3].clone())
        .collect();
    assert!(!ids.is_empty());
    let finder = aho_corasick::AhoCorasick::new(&ids).unwrap();
    for p in files_below(&out) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains("match") && !name.contains("register"),
            "{name}"
        );
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("match."), "{name} names a matching rule");
        assert!(
            finder.find(text.as_ref()).is_none(),
            "{name} holds a register ID number"
        );
    }
}

#[test]
fn matching_pages_render_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, planted, _) = warehouse_with_registers(dir.path());
    let out = dir.path().join("reports");
    let pipelines = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let o = crate::matrix::report_into(&wh, &out, &pipelines);
    assert!(o.status.success(), "{}", text(&o));
    let county = &planted.expected[0][1];
    for page in [
        "matching/index.html".to_string(),
        format!("matching/lists/{county}.html"),
    ] {
        let png = dir.path().join(page.replace('/', "_") + ".png");
        let ((w, h, ink, colours), console) = crate::report::render(&out.join(&page), &png);
        assert_eq!((w, h), (1200, 1600), "{page}");
        assert!(console.is_empty(), "{page}: console output {console:?}");
        assert!(ink > 0.005, "{page} looks blank: {ink:.4} of pixels inked");
        assert!(colours > 8, "{page} has {colours} colours");
        if std::env::var_os("POVCENSUS_KEEP_SCREENSHOTS").is_some() {
            std::fs::copy(&png, std::env::temp_dir().join(png.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn running_matching_without_registers_warns_and_writes_empty_tables() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("out");
    let o = povcensus(&[
        "run",
        "matching",
        "--warehouse",
        &wh,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no departmental registers"));
    assert!(findings(&out).is_empty());
    let summary = std::fs::read_to_string(out.join("match_summary.csv")).unwrap();
    assert_eq!(csv_records(&summary).len(), 0);
    assert!(
        summary.contains("rate_per_1000"),
        "the header is written: {summary}"
    );
}

#[test]
fn an_independent_duckdb_recount_agrees_with_the_findings() {
    let m = matched();
    let (wh, out) = (&m.wh, &m.out);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/matching_recount.py");
    let o = std::process::Command::new(crate::support::python())
        .arg(&script)
        .arg(wh)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut theirs: Vec<Finding> = csv_records(&String::from_utf8(o.stdout).unwrap())
        .iter()
        .map(finding_key)
        .collect();
    let mut ours: Vec<Finding> = findings(out).iter().map(finding_key).collect();
    theirs.sort();
    ours.sort();
    assert!(theirs.len() > 100, "{} findings", theirs.len());
    assert_eq!(ours, theirs);
}
