//! `povcensus generate`: validity, planted faults, calibration, determinism, encodings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use povcensus::contract::id_number;
use povcensus::contract::rules::Rule;
use povcensus::generator::{self, Encoding, GenerateOptions, TruthEntry, read_truth};

use crate::oracle::{self, Found};

fn opts(out: &Path, scale: f64, provinces: &[&str]) -> GenerateOptions {
    let mut o = GenerateOptions::new(out);
    o.scale = scale;
    o.provinces =
        (!provinces.is_empty()).then(|| provinces.iter().map(|s| s.to_string()).collect());
    o
}

/// Read a generated UTF-8 CSV into header-keyed rows.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Every file below `root` with its bytes, by relative path.
pub fn all_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn clean_data_breaks_no_rule_in_any_province() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path(), 0.0005, &[]);
    o.assess_all = true;
    let summary = generator::generate(&o).unwrap();
    assert_eq!(summary.provinces.len(), 22);
    let outcome = oracle::check(dir.path(), true);
    assert!(
        outcome.found.is_empty(),
        "clean data broke rules: {:#?}",
        &outcome.found[..outcome.found.len().min(20)]
    );
    for ((p, f), (read, loaded, rejected)) in &outcome.counts {
        assert_eq!(*read, loaded + rejected, "{p}/{f}");
        assert_eq!(*rejected, 0, "{p}/{f}");
        assert!(*read > 0, "{p}/{f} is empty");
    }
    assert!(
        !dir.path().join("ground_truth").exists(),
        "no ground truth without --errors"
    );
}

#[test]
fn households_are_consistent_and_ids_recognisably_synthetic() {
    let dir = tempfile::tempdir().unwrap();
    generator::generate(&opts(dir.path(), 0.002, &["52", "54"])).unwrap();
    for p in ["52", "54"] {
        let pdir = dir.path().join(p);
        let counties: BTreeSet<String> = read_csv(&pdir.join("counties.csv"))
            .into_iter()
            .map(|r| r["county_code"].clone())
            .collect();
        let persons = read_csv(&pdir.join("persons.csv"));
        let mut by_household: HashMap<String, Vec<&HashMap<String, String>>> = HashMap::new();
        for person in &persons {
            let id = &person["person_id"];
            let info = id_number::parse(id).unwrap();
            assert!(counties.contains(&id[..6]), "address code is the county");
            assert!(
                (900..=999).contains(&id[14..17].parse::<u32>().unwrap()),
                "sequence 9xx marks synthetic IDs"
            );
            assert_eq!(info.sex.to_string(), person["sex"]);
            assert!(id.starts_with(&person["household_id"][..6]));
            by_household
                .entry(person["household_id"].clone())
                .or_default()
                .push(person);
        }
        let age = |p: &HashMap<String, String>| 2020 - p["birth_date"][..4].parse::<i32>().unwrap();
        for members in by_household.values() {
            let heads: Vec<_> = members.iter().filter(|m| m["relation"] == "1").collect();
            assert_eq!(heads.len(), 1);
            let head = heads[0];
            assert!(age(head) >= 18, "heads are adults");
            for m in members {
                match m["relation"].as_str() {
                    "2" => {
                        assert_ne!(m["sex"], head["sex"], "spouses are of opposite sex");
                        assert!((age(m) - age(head)).abs() <= 5 && age(m) >= 18);
                    }
                    "3" => assert!(
                        age(head) - age(m) >= 20,
                        "children at least 20 years younger"
                    ),
                    "4" => assert!(age(m) - age(head) >= 22, "parents at least 22 years older"),
                    "5" => assert!(age(head) - age(m) >= 40, "grandchildren"),
                    _ => {}
                }
                let a = age(m);
                assert_eq!(m["schooling_status"].is_empty(), !(6..=15).contains(&a));
                if a < 6 {
                    assert_eq!(m["education_level"], "1", "pre-school");
                }
                if m["schooling_status"] == "2" {
                    assert_eq!(
                        m["health_status"], "4",
                        "children taught at home are disabled"
                    );
                }
            }
        }
    }
}

/// Share (percent) of rows meeting `cond`, and the count.
fn share<T>(rows: &[T], w: impl Fn(&T) -> f64, cond: impl Fn(&T) -> bool) -> (f64, f64) {
    let total: f64 = rows.iter().map(&w).sum();
    let hit: f64 = rows.iter().filter(|r| cond(r)).map(&w).sum();
    (100.0 * hit / total, rows.len() as f64)
}

fn assert_close(name: &str, (got, n): (f64, f64), want: f64, deff: f64) {
    let p = want / 100.0;
    let se = 100.0 * (p * (1.0 - p) * deff / n).sqrt();
    let tol = 4.0 * se + 0.05;
    assert!(
        (got - want).abs() <= tol,
        "{name}: {got:.3} vs published {want} (tolerance {tol:.3}, n {n})"
    );
}

#[test]
fn calibrated_to_the_published_bulletins_at_scale_0_01() {
    let dir = tempfile::tempdir().unwrap();
    generator::generate(&opts(dir.path(), 0.01, &[])).unwrap();
    type Rows = Vec<HashMap<String, String>>;
    let mut t: BTreeMap<&str, (Rows, Rows)> = BTreeMap::new(); // table → (npc, sample)
    let mut weights: HashMap<String, (bool, f64)> = HashMap::new();
    for p in std::fs::read_dir(dir.path()).unwrap() {
        let pdir = p.unwrap().path();
        for c in read_csv(&pdir.join("counties.csv")) {
            weights.insert(
                c["county_code"].clone(),
                (
                    c["county_type"] == "3",
                    c["sampling_weight"].parse().unwrap(),
                ),
            );
            let e = t.entry("counties").or_default();
            if c["county_type"] == "3" {
                e.1.push(c)
            } else {
                e.0.push(c)
            }
        }
        for table in ["townships", "villages", "households", "persons"] {
            for r in read_csv(&pdir.join(format!("{table}.csv"))) {
                let key = match table {
                    "townships" => &r["township_code"],
                    "villages" => &r["village_code"],
                    _ => &r["household_id"],
                };
                let sampled = weights[&key[..6]].0;
                let e = t.entry(table).or_default();
                if sampled { e.1.push(r) } else { e.0.push(r) }
            }
        }
    }
    let w = |r: &HashMap<String, String>| -> f64 {
        let key = r
            .get("household_id")
            .or(r.get("village_code"))
            .or(r.get("township_code"))
            .unwrap();
        weights[&key[..6]].1
    };
    let one = |_: &HashMap<String, String>| 1.0;
    let enumerated = |rows: &Rows| -> Rows {
        rows.iter()
            .filter(|h| h["enumeration_status"] == "1")
            .cloned()
            .collect()
    };
    let hh = enumerated(&t["households"].0);
    let eq = |col: &'static str, v: &'static str| move |r: &HashMap<String, String>| r[col] == v;

    // npc: households.
    for (name, col, v, want) in [
        ("protein_anytime", "protein_frequency", "1", 98.94),
        ("housing_safe_existing", "housing_route", "1", 43.74),
        ("housing_renovated", "housing_route", "2", 42.25),
        ("housing_relocated", "housing_route", "3", 14.01),
        ("water_piped", "water_access", "1", 93.67),
        ("water_convenient", "water_access", "2", 6.33),
        ("water_no_shortage", "water_reliability", "1", 99.86),
        ("water_basic_supply", "water_reliability", "2", 0.14),
        ("ind_self", "ind_self", "1", 77.3),
        ("ind_coop", "ind_coop", "1", 72.6),
        ("ind_training", "ind_training", "1", 71.8),
        ("ind_credit", "ind_credit", "1", 37.0),
        ("emp_training", "emp_training", "1", 62.7),
        ("emp_tech_school", "emp_tech_school", "1", 3.2),
        ("emp_service", "emp_service", "1", 81.0),
        ("emp_startup", "emp_startup", "1", 14.3),
        ("emp_public_job", "emp_public_job", "1", 27.6),
        ("emp_workshop", "emp_workshop", "1", 5.4),
        ("emp_transport", "emp_transport", "1", 22.3),
        ("hlt_premium", "hlt_premium", "1", 98.3),
        ("hlt_one_stop", "hlt_one_stop", "1", 63.3),
        ("hlt_chronic", "hlt_chronic", "1", 34.7),
        ("edu_preschool", "edu_preschool", "1", 18.5),
        ("edu_compulsory", "edu_compulsory", "1", 41.9),
        ("edu_highschool", "edu_highschool", "1", 12.9),
        ("edu_vocational", "edu_vocational", "1", 7.0),
        ("edu_grant", "edu_grant", "1", 18.6),
        ("edu_loan", "edu_loan", "1", 5.8),
    ] {
        assert_close(name, share(&hh, one, eq(col, v)), want, 1.0);
    }
    let any = |cols: &'static [&'static str]| {
        move |r: &HashMap<String, String>| cols.iter().any(|c| r[*c] == "1")
    };
    use povcensus::contract::schema::{
        ASSIST_EDUCATION, ASSIST_EMPLOYMENT, ASSIST_HEALTH, ASSIST_INDUSTRY,
    };
    assert_close(
        "assist_industry_any",
        share(&hh, one, any(ASSIST_INDUSTRY)),
        98.9,
        1.0,
    );
    assert_close(
        "assist_employment_any",
        share(&hh, one, any(ASSIST_EMPLOYMENT)),
        93.8,
        1.0,
    );
    assert_close(
        "assist_health_any",
        share(&hh, one, any(ASSIST_HEALTH)),
        99.6,
        1.0,
    );
    assert_close(
        "assist_education_any",
        share(&hh, one, any(ASSIST_EDUCATION)),
        54.5,
        1.0,
    );

    // npc: persons and children.
    let persons = &t["persons"].0;
    for (name, v, want) in [
        ("med_resident", "1", 99.85),
        ("med_employee", "2", 0.14),
        ("med_special", "3", 0.01),
    ] {
        assert_close(
            name,
            share(persons, one, eq("medical_insurance", v)),
            want,
            1.0,
        );
    }
    let children: Rows = persons
        .iter()
        .filter(|p| !p["schooling_status"].is_empty())
        .cloned()
        .collect();
    assert_close(
        "edu_in_school",
        share(&children, one, eq("schooling_status", "1")),
        98.83,
        1.0,
    );
    let dropouts = share(&children, one, eq("schooling_status", "4")).0;
    assert!(dropouts < 0.1, "dropouts are rare: {dropouts}");

    // npc: villages, townships, counties.
    let vil = &t["villages"].0;
    for (name, col, v, want) in [
        ("vil_road", "hardened_road", "1", 99.6),
        ("vil_power", "power_grid", "1", 99.3),
        ("vil_mobile", "mobile_signal", "1", 99.9),
        ("vil_broadband", "broadband", "1", 99.6),
        ("vil_radio_tv", "radio_tv", "1", 99.9),
        ("vil_service_centre", "service_centre", "1", 99.0),
        ("vil_ecommerce", "ecommerce_point", "1", 62.7),
        ("vil_water_all", "central_water", "1", 65.5),
        ("vil_water_part", "central_water", "2", 31.9),
        ("vil_garbage_all", "garbage_collection", "1", 89.9),
        ("vil_garbage_part", "garbage_collection", "2", 9.0),
        ("vil_library", "library_or_culture", "1", 98.9),
    ] {
        assert_close(name, share(vil, one, eq(col, v)), want, 1.0);
    }
    let twn = &t["townships"].0;
    for (name, col, want) in [
        ("twn_primary", "has_primary_school", 98.5),
        ("twn_junior", "has_junior_school", 70.3),
        ("twn_boarding", "has_boarding_school", 94.1),
        ("twn_culture", "has_culture_station", 99.4),
    ] {
        assert_close(name, share(twn, one, eq(col, "1")), want, 1.0);
    }
    let cty = &t["counties"].0;
    for (name, col, want) in [
        ("cty_hospital", "has_county_hospital", 99.8),
        ("cty_grade2", "has_grade2_hospital", 98.0),
        ("cty_vocational", "has_vocational_school", 82.4),
        ("cty_technical", "has_technical_school", 18.7),
        ("cty_skills", "has_skills_training", 84.5),
        ("cty_library", "has_public_library", 98.1),
    ] {
        assert_close(name, share(cty, one, eq(col, "1")), want, 1.0);
    }

    // Income: mean per-capita net income ≈ 10,740 yuan, skewed, a small share below 4,000.
    let income = |h: &HashMap<String, String>| -> f64 {
        [
            "income_wage",
            "income_business",
            "income_property",
            "income_transfer",
        ]
        .iter()
        .map(|c| h[*c].parse::<f64>().unwrap())
        .sum()
    };
    let size = |h: &HashMap<String, String>| h["household_size"].parse::<f64>().unwrap();
    let mean = hh.iter().map(income).sum::<f64>() / hh.iter().map(size).sum::<f64>();
    assert!(
        (mean / 10_740.0 - 1.0).abs() < 0.02,
        "mean per-capita income {mean}"
    );
    let pcs: Vec<f64> = hh.iter().map(|h| income(h) / size(h)).collect();
    let below = 100.0 * pcs.iter().filter(|&&x| x < 4_000.0).count() as f64 / pcs.len() as f64;
    assert!((0.2..3.0).contains(&below), "share below the line {below}");
    let mut sorted = pcs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!(
        median < pcs.iter().sum::<f64>() / pcs.len() as f64,
        "right-skewed: median below mean"
    );
    let persons_per_household = persons.len() as f64 / hh.len() as f64;
    assert!(
        (persons_per_household - 3.58).abs() < 0.06,
        "{persons_per_household}"
    );

    // Correlations: relocated households mostly have piped water.
    let relocated: Rows = hh
        .iter()
        .filter(|h| h["housing_route"] == "3")
        .cloned()
        .collect();
    assert!(share(&relocated, one, eq("water_access", "1")).0 > 98.0);

    // sample scope, weighted by the county's sampling weight.
    let shh = enumerated(&t["households"].1);
    for (name, col, v, want) in [
        ("protein_anytime", "protein_frequency", "1", 99.03),
        ("housing_safe_existing", "housing_route", "1", 58.26),
        ("housing_renovated", "housing_route", "2", 34.70),
        ("housing_relocated", "housing_route", "3", 7.04),
        ("water_piped", "water_access", "1", 84.25),
        ("water_convenient", "water_access", "2", 15.75),
        ("water_no_shortage", "water_reliability", "1", 99.95),
    ] {
        assert_close(
            &format!("sample {name}"),
            share(&shh, w, eq(col, v)),
            want,
            1.5,
        );
    }
    let sp = &t["persons"].1;
    assert_close(
        "sample med_resident",
        share(sp, w, eq("medical_insurance", "1")),
        99.74,
        1.5,
    );
    assert_close(
        "sample med_employee",
        share(sp, w, eq("medical_insurance", "2")),
        0.24,
        1.5,
    );
}

#[test]
fn same_arguments_give_the_same_bytes_whatever_the_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let mut o = opts(a.path(), 0.002, &["45", "52"]);
    o.error_rate = 0.01;
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| generator::generate(&o).unwrap());
    o.out = b.path().to_path_buf();
    rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| generator::generate(&o).unwrap());
    let (fa, fb) = (all_files(a.path()), all_files(b.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(v == &fb[k], "{} differs between runs", k.display());
    }
    // The province's data does not depend on which other provinces were asked for.
    let mut one = opts(c.path(), 0.002, &["52"]);
    one.error_rate = 0.01;
    generator::generate(&one).unwrap();
    assert_eq!(
        std::fs::read(c.path().join("52/persons.csv")).unwrap(),
        fa[Path::new("52/persons.csv")]
    );
    // Another seed gives other data.
    o.out = c.path().to_path_buf();
    o.seed = 2;
    generator::generate(&o).unwrap();
    assert_ne!(
        std::fs::read(c.path().join("52/persons.csv")).unwrap(),
        fa[Path::new("52/persons.csv")]
    );
}

#[test]
fn clean_records_are_the_same_with_and_without_errors() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generator::generate(&opts(a.path(), 0.002, &["53"])).unwrap();
    let mut o = opts(b.path(), 0.002, &["53"]);
    o.error_rate = 0.02;
    generator::generate(&o).unwrap();
    let clean: BTreeSet<String> = std::fs::read_to_string(a.path().join("53/persons.csv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let noisy: BTreeSet<String> = std::fs::read_to_string(b.path().join("53/persons.csv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = clean.difference(&noisy).collect();
    // Only planted warnings change real rows (a second head is written with relation 1).
    assert!(
        missing.len() <= clean.len() / 50,
        "{} clean rows changed",
        missing.len()
    );
}

fn truth_key(e: &TruthEntry) -> (String, String, Option<u64>, Rule) {
    (e.province.clone(), e.file.clone(), e.line, e.rule)
}

/// The findings the ground truth predicts when `provinces` (under `root`) are ingested
/// together: every planted fault, except that a person in two provinces whose other province
/// is absent loads, and its household is then one member short of its declared size.
pub fn expected_findings(
    root: &Path,
    provinces: &[&str],
    truth: &[TruthEntry],
) -> BTreeSet<(String, String, Option<u64>, Rule)> {
    let present = |e: &TruthEntry| {
        e.requires_province
            .as_ref()
            .is_none_or(|p| provinces.contains(&p.as_str()))
    };
    let mut want: BTreeSet<_> = truth.iter().filter(|e| present(e)).map(truth_key).collect();
    for e in truth.iter().filter(|e| !present(e)) {
        let pdir = root.join(&e.province);
        let persons = std::fs::read_to_string(pdir.join("persons.csv")).unwrap();
        let row = persons.lines().nth(e.line.unwrap() as usize - 1).unwrap();
        let hid = row.split(',').nth(1).unwrap();
        let households = std::fs::read_to_string(pdir.join("households.csv")).unwrap();
        let line = households.lines().position(|l| l.starts_with(hid)).unwrap() as u64 + 1;
        want.insert((
            e.province.clone(),
            "households.csv".into(),
            Some(line),
            Rule::HouseholdSizeMismatch,
        ));
    }
    want
}

fn found_key(f: &Found) -> (String, String, Option<u64>, Rule) {
    (f.province.clone(), f.file.clone(), f.line, f.rule)
}

#[test]
fn planted_faults_are_exactly_the_rules_broken() {
    let dir = tempfile::tempdir().unwrap();
    // 45, 51, 53, 62 and 64 carry the file-level faults; 52 keeps assessment row faults; the
    // others are the donors of the planted persons in two provinces (the province before each
    // in census order).
    let provinces = [
        "43", "45", "46", "50", "51", "52", "53", "61", "62", "63", "64",
    ];
    let mut o = opts(dir.path(), 0.002, &provinces);
    o.error_rate = 0.01;
    generator::generate(&o).unwrap();
    let mut truth = Vec::new();
    for p in provinces {
        truth.extend(read_truth(&dir.path().join(format!("ground_truth/{p}.jsonl"))).unwrap());
    }
    let outcome = oracle::check(dir.path(), true);
    let want = expected_findings(dir.path(), &provinces, &truth);
    let got: BTreeSet<_> = outcome.found.iter().map(found_key).collect();
    let missed: Vec<_> = want.difference(&got).collect();
    let unplanted: Vec<_> = got.difference(&want).collect();
    assert!(missed.is_empty(), "planted but not found: {missed:#?}");
    assert!(
        unplanted.is_empty(),
        "found but not planted: {unplanted:#?}"
    );
    assert_eq!(outcome.found.len(), got.len(), "one finding per faulty row");

    // Every kind of bad input of submission-format.md §4 is planted. Not by the generator:
    // manifest and header faults, a missing file, a file reached through a link that leaves
    // the submission and CR-only line endings (the ingest tests make those by hand).
    let not_generated = [
        Rule::ManifestInvalid,
        Rule::FileMissing,
        Rule::FileHeader,
        Rule::FileOutside,
        Rule::FileLineEndings,
    ];
    let rules: BTreeSet<Rule> = truth.iter().map(|e| e.rule).collect();
    for r in Rule::ALL {
        // Register rules are for departments' registers (tests/it/registers.rs).
        if !not_generated.contains(r) && !r.id().starts_with("register.") {
            assert!(rules.contains(r), "no planted fault for {r}");
        }
    }
    assert!(truth.iter().any(|e| e.cascade), "a cascade is planted");
    assert!(
        truth.iter().any(|e| e.requires_province.is_some()),
        "a person in two provinces is planted"
    );

    // Conservation per file.
    for ((p, f), (read, loaded, rejected)) in &outcome.counts {
        assert_eq!(*read, loaded + rejected, "{p}/{f}");
    }
    // The undecodable file is found by its byte offset, as the ground truth says.
    let enc = truth.iter().find(|e| e.rule == Rule::FileEncoding).unwrap();
    assert!(enc.note.contains("byte offset"), "{}", enc.note);
}

#[test]
fn gb18030_with_chinese_headers_reads_back_as_the_same_records() {
    let utf = tempfile::tempdir().unwrap();
    let gb = tempfile::tempdir().unwrap();
    generator::generate(&opts(utf.path(), 0.001, &["53"])).unwrap();
    let mut o = opts(gb.path(), 0.001, &["53"]);
    o.encoding = Encoding::Gb18030;
    o.chinese_headers = true;
    generator::generate(&o).unwrap();
    let bytes = std::fs::read(gb.path().join("53/persons.csv")).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "really GB18030");
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
    assert!(!had_errors);
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("公民身份号码,户编码,姓名,")
    );
    let utf_text = std::fs::read_to_string(utf.path().join("53/persons.csv")).unwrap();
    assert_eq!(
        lines.collect::<Vec<_>>(),
        utf_text.lines().skip(1).collect::<Vec<_>>()
    );
    let manifest = std::fs::read_to_string(gb.path().join("53/manifest.json")).unwrap();
    assert!(manifest.contains("\"encoding\": \"gb18030\""));
    // Undeclared: the reader detects GB18030 and the data is valid.
    let outcome = oracle::check(gb.path(), false);
    assert!(outcome.found.is_empty(), "{:?}", outcome.found);
    assert!(outcome.encodings.values().all(|e| *e == Encoding::Gb18030));
}

#[test]
fn cli_reports_bad_arguments_all_at_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args([
            "generate",
            "--out",
            "/nonexistent-dir-x",
            "--scale",
            "0",
            "--provinces",
            "52,99",
            "--errors",
            "0.9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--scale must be in (0, 2]"), "{err}");
    assert!(
        err.contains("`99` is not one of the 22 census provinces"),
        "{err}"
    );
    assert!(err.contains("--errors must be in"), "{err}");
    assert!(out.stdout.is_empty(), "stdout is for data");
}

#[test]
fn cli_generates_a_submission() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args([
            "generate",
            "--scale",
            "0.0005",
            "--provinces",
            "64",
            "--seed",
            "3",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for t in povcensus::contract::schema::Table::ALL {
        assert!(dir.path().join("64").join(t.file_name()).exists(), "{t}");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let id_like = err
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|t| t.len() >= 17 && t.bytes().take(17).all(|b| b.is_ascii_digit()));
    assert!(!id_like, "no ID numbers in logs: {err}");
}

#[test]
fn sample_data_is_reproducible() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("submissions");
    let mut o = opts(&subs, 0.002, &["45", "52"]);
    o.seed = 2021;
    generator::generate(&o).unwrap();
    o.provinces = Some(vec!["53".into()]);
    o.encoding = Encoding::Gb18030;
    o.chinese_headers = true;
    generator::generate(&o).unwrap();
    let mut b = opts(&dir.path().join("broken"), 0.002, &["62"]);
    b.seed = 2021;
    b.error_rate = 0.02;
    generator::generate(&b).unwrap();
    let fresh = all_files(dir.path());
    let mut committed = all_files(&root);
    committed.remove(Path::new("README.md"));
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (k, v) in &fresh {
        assert!(
            v == &committed[k],
            "sample-data/{} differs from what the documented command writes",
            k.display()
        );
    }
}
