//! `povcensus run`: the census pipeline against hand-computed values, generated-data
//! cross-checks, determinism and the pipeline checks.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use povcensus::generator::{self, GenerateOptions};

use crate::ingest::{povcensus, run_pipeline, sql};

fn census_toml() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pipelines/census.toml")
        .display()
        .to_string()
}

/// Ingest `subs` and run the census pipeline; returns (warehouse, out) paths.
fn ingest_and_run(dir: &Path, subs: &[&Path], extra: &[&str]) -> (String, std::path::PathBuf) {
    let wh = dir.join("wh").display().to_string();
    let mut args: Vec<String> = vec!["ingest".into()];
    args.extend(subs.iter().map(|p| p.display().to_string()));
    args.extend(["--warehouse".into(), wh.clone()]);
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = povcensus(&args_ref);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = dir.join("out");
    let o = run_pipeline(Path::new(&census_toml()), &wh, &out, extra);
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (wh, out)
}

type Key = (String, String, String, String); // scope, level, area, indicator

/// Read indicators.csv (after its BOM) into (numerator, denominator, value) by key.
fn indicators(out: &Path) -> BTreeMap<Key, (f64, f64, f64)> {
    let bytes = std::fs::read(out.join("indicators.csv")).unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "CSV starts with a UTF-8 BOM"
    );
    let mut r = csv::Reader::from_reader(&bytes[3..]);
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "scope",
            "level",
            "area_code",
            "area_name",
            "indicator_id",
            "numerator",
            "denominator",
            "value"
        ]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let f = |i: usize| rec[i].parse::<f64>().unwrap();
            (
                (rec[0].into(), rec[1].into(), rec[2].into(), rec[4].into()),
                (f(5), f(6), f(7)),
            )
        })
        .collect()
}

fn key(scope: &str, level: &str, area: &str, id: &str) -> Key {
    (scope.into(), level.into(), area.into(), id.into())
}

#[test]
fn hand_computed_indicators_to_the_last_digit() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipeline/52");
    let (_, out) = ingest_and_run(dir.path(), &[&fixture], &[]);
    let got = indicators(&out);
    let share = |n: f64, d: f64| (n, d, 100.0 * n / d);
    // Worked by hand from tests/fixtures/pipeline/52 (see the comments beside each value).
    let expected: Vec<(Key, (f64, f64, f64))> = vec![
        // npc: households H1, H2, H3 (H4 refused the census and is not counted).
        (key("npc", "national", "00", "food_enough"), share(3.0, 3.0)),
        (
            key("npc", "national", "00", "protein_anytime"),
            share(2.0, 3.0),
        ),
        (
            key("npc", "national", "00", "housing_safe_existing"),
            share(1.0, 3.0),
        ),
        (
            key("npc", "national", "00", "housing_unsafe"),
            share(1.0, 3.0),
        ),
        (key("npc", "national", "00", "water_safe"), share(2.0, 3.0)), // H3 water quantity fails
        // H2 has a dropout aged 15, H3 unsafe housing and an uninsured member.
        (
            key("npc", "national", "00", "guarantees_met"),
            share(1.0, 3.0),
        ),
        (
            key("npc", "national", "00", "income_above_line"),
            share(2.0, 3.0),
        ), // H2: 7000 / 2 < 4000
        (
            key("npc", "national", "00", "exit_standard_met"),
            share(1.0, 3.0),
        ),
        (
            key("npc", "national", "00", "wrongly_exited"),
            share(1.0, 2.0),
        ), // H1, H2 exited; H2 fails
        (
            key("npc", "national", "00", "wrongly_exited_persons"),
            share(2.0, 5.0),
        ),
        (
            key("npc", "national", "00", "income_per_capita_mean"),
            (45000.0, 6.0, 7500.0),
        ),
        (
            key("npc", "national", "00", "income_share_business"),
            share(2000.0, 45000.0),
        ), // a 1000-yuan loss
        (
            key("npc", "national", "00", "assist_industry_any"),
            share(2.0, 3.0),
        ),
        (key("npc", "national", "00", "ind_self"), share(2.0, 3.0)),
        (
            key("npc", "national", "00", "assist_education_any"),
            share(1.0, 3.0),
        ),
        // Children: P3 aged exactly 6 on 2020-12-31, P5 aged 15 (dropout).
        (
            key("npc", "national", "00", "edu_in_school"),
            share(1.0, 2.0),
        ),
        (key("npc", "national", "00", "edu_dropout"), share(1.0, 2.0)),
        (
            key("npc", "national", "00", "edu_guaranteed"),
            share(1.0, 2.0),
        ),
        (
            key("npc", "national", "00", "med_resident"),
            share(4.0, 6.0),
        ),
        (
            key("npc", "national", "00", "med_employee"),
            share(1.0, 6.0),
        ),
        (
            key("npc", "national", "00", "med_uninsured"),
            share(1.0, 6.0),
        ),
        (
            key("npc", "national", "00", "med_guaranteed"),
            share(5.0, 6.0),
        ),
        // Villages V1, V2: V2's road is not feasible, it is outside no grid but has none.
        (key("npc", "national", "00", "vil_road"), share(1.0, 2.0)),
        (
            key("npc", "national", "00", "vil_road_feasible"),
            share(1.0, 1.0),
        ),
        (
            key("npc", "national", "00", "vil_power_in_grid"),
            share(1.0, 2.0),
        ),
        (key("npc", "national", "00", "vil_clinic"), share(1.0, 2.0)),
        (
            key("npc", "national", "00", "vil_collective_5w"),
            share(1.0, 2.0),
        ), // 12 yes, 4 no
        (
            key("npc", "national", "00", "vil_township_health"),
            share(1.0, 2.0),
        ), // V2's township is exempt (3)
        (
            key("npc", "national", "00", "twn_health_centre"),
            share(1.0, 2.0),
        ),
        (
            key("npc", "national", "00", "cty_technical"),
            share(0.0, 1.0),
        ),
        // sample: county 520102, weight 2.5, household H5 with 2 persons.
        (
            key("sample", "national", "00", "housing_relocated"),
            share(2.5, 2.5),
        ),
        (
            key("sample", "national", "00", "income_per_capita_mean"),
            (30000.0, 5.0, 6000.0),
        ),
        (
            key("sample", "national", "00", "med_resident"),
            share(2.5, 5.0),
        ),
        (
            key("sample", "national", "00", "med_special"),
            share(2.5, 5.0),
        ),
        (
            key("sample", "national", "00", "vil_collective_5w"),
            share(2.5, 2.5),
        ), // exactly 5 counts
        (
            key("sample", "national", "00", "cty_vocational"),
            share(0.0, 2.5),
        ),
        // all: npc plus the weighted sample.
        (
            key("all", "national", "00", "housing_relocated"),
            share(2.5, 5.5),
        ),
        (
            key("all", "national", "00", "income_per_capita_mean"),
            (75000.0, 11.0, 75000.0 / 11.0),
        ),
        (
            key("all", "national", "00", "wrongly_exited"),
            share(1.0, 4.5),
        ),
        (
            key("all", "national", "00", "med_resident"),
            share(6.5, 11.0),
        ),
        (key("all", "national", "00", "vil_road"), share(3.5, 4.5)),
        // Province and county levels.
        (
            key("all", "province", "52", "housing_relocated"),
            share(2.5, 5.5),
        ),
        (
            key("npc", "county", "522726", "guarantees_met"),
            share(1.0, 3.0),
        ),
        (
            key("sample", "county", "520102", "guarantees_met"),
            share(2.5, 2.5),
        ),
        (
            key("all", "county", "520102", "guarantees_met"),
            share(2.5, 2.5),
        ),
    ];
    for (k, want) in &expected {
        let have = got.get(k).unwrap_or_else(|| panic!("no row for {k:?}"));
        assert_eq!(have, want, "{k:?}");
    }
    // Zero denominators are omitted: the sample county has no children; npc is not in 520102.
    assert!(!got.contains_key(&key("sample", "national", "00", "edu_in_school")));
    assert!(!got.contains_key(&key("npc", "county", "520102", "food_enough")));
    assert!(!got.contains_key(&key("sample", "county", "522726", "food_enough")));
    // Area names.
    let csv = String::from_utf8(std::fs::read(out.join("indicators.csv")).unwrap()).unwrap();
    assert!(
        csv.contains("npc,national,00,全国,food_enough")
            && csv.contains("npc,province,52,贵州省,")
            && csv.contains("npc,county,522726,独山县,")
    );

    // Village exits.
    let ve = std::fs::read_to_string(out.join("village_exit.csv")).unwrap();
    assert_eq!(
        ve.trim_start_matches('\u{feff}'),
        "village_code,county_code,poor_persons,population,incidence_pct,threshold_pct,passes\n\
         520102001001,520102,0,50,0.0,3.0,true\n\
         522726001001,522726,2,100,2.0,3.0,true\n\
         522726002001,522726,1,0,,3.0,\n"
    );
    // The run manifest records what was read and written.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run_manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["snapshot"], 1);
    assert_eq!(m["provinces"]["52"][1], "52-pipeline-fixture");
    assert_eq!(m["parameters"]["poverty_line"], "4000.0");
    assert_eq!(m["outputs"].as_array().unwrap().len(), 4);
    assert!(
        m["queries"]["census/indicators.sql"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
}

#[test]
fn a_parameter_override_changes_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipeline/52");
    let (_, out) = ingest_and_run(dir.path(), &[&fixture], &["--param", "poverty_line=5500"]);
    let got = indicators(&out);
    // H1 (11000), H3 (5000) and H2 (3500) per person: only H1 is above 5,500.
    assert_eq!(
        got[&key("npc", "national", "00", "income_above_line")],
        (1.0, 3.0, 100.0 / 3.0)
    );
    let o = povcensus(&[
        "run",
        &census_toml(),
        "--warehouse",
        "x",
        "--out",
        "y",
        "--param",
        "poverty_lin=1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("the pipeline has no parameter `poverty_lin`")
    );
}

#[test]
fn generated_census_cross_checks_and_determinism() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let mut g = GenerateOptions::new(&subs);
    g.scale = 0.003;
    g.provinces = Some(
        ["45", "52", "53", "62", "65"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    generator::generate(&g).unwrap();
    let (wh, out) = ingest_and_run(dir.path(), &[&subs], &["--threads", "1"]);
    let got = indicators(&out);

    let areas: Vec<(String, String, String)> = {
        let mut v: Vec<_> = got
            .keys()
            .map(|(s, l, a, _)| (s.clone(), l.clone(), a.clone()))
            .collect();
        v.dedup();
        v
    };
    let n = |s: &str, l: &str, a: &str, id: &str| got.get(&key(s, l, a, id)).map(|x| x.0);
    let v = |s: &str, l: &str, a: &str, id: &str| got.get(&key(s, l, a, id)).map(|x| x.2);
    for (s, l, a) in &areas {
        // Sub-items never exceed their "any".
        for (any, items) in [
            (
                "assist_industry_any",
                povcensus::contract::schema::ASSIST_INDUSTRY,
            ),
            (
                "assist_employment_any",
                povcensus::contract::schema::ASSIST_EMPLOYMENT,
            ),
            (
                "assist_health_any",
                povcensus::contract::schema::ASSIST_HEALTH,
            ),
            (
                "assist_education_any",
                povcensus::contract::schema::ASSIST_EDUCATION,
            ),
        ] {
            if let Some(total) = n(s, l, a, any) {
                for i in items {
                    assert!(n(s, l, a, i).unwrap() <= total, "{s} {l} {a}: {i} > {any}");
                }
            }
        }
        // Categorical blocks sum to 100.
        for block in [
            &[
                "housing_safe_existing",
                "housing_renovated",
                "housing_relocated",
                "housing_unsafe",
            ][..],
            &["water_piped", "water_convenient", "water_inconvenient"][..],
            &[
                "water_no_shortage",
                "water_basic_supply",
                "water_unreliable",
            ][..],
            &[
                "med_resident",
                "med_employee",
                "med_special",
                "med_uninsured",
            ][..],
            &[
                "edu_in_school",
                "edu_home_teaching",
                "edu_unable",
                "edu_dropout",
            ][..],
            &[
                "income_share_wage",
                "income_share_business",
                "income_share_property",
                "income_share_transfer",
            ][..],
        ] {
            if block.iter().all(|i| v(s, l, a, i).is_some()) {
                let total: f64 = block.iter().map(|i| v(s, l, a, i).unwrap()).sum();
                assert!(
                    (total - 100.0).abs() < 1e-9,
                    "{s} {l} {a}: {block:?} sum to {total}"
                );
            }
        }
        // Composites never exceed their parts.
        if let (Some(g), Some(e)) = (
            n(s, l, a, "guarantees_met"),
            n(s, l, a, "exit_standard_met"),
        ) {
            assert!(e <= g);
        }
    }
    // National = sum of provinces = sum of counties, numerators and denominators, every scope.
    for ((s, l, _, id), (num, den, _)) in got.iter().filter(|(k, _)| k.1 == "national") {
        for level in ["province", "county"] {
            let (sn, sd) = got
                .iter()
                .filter(|(k, _)| &k.0 == s && k.1 == level && &k.3 == id)
                .fold((0.0, 0.0), |acc, (_, x)| (acc.0 + x.0, acc.1 + x.1));
            assert!(
                (sn - num).abs() <= 1e-9 * num.abs().max(1.0),
                "{s} {l} {id}: {level} numerators {sn} vs {num}"
            );
            assert!(
                (sd - den).abs() <= 1e-9 * den.abs().max(1.0),
                "{s} {l} {id}: {level} denominators"
            );
        }
    }
    // An independent count from the warehouse rows: guarantees and the exit standard.
    let raw = sql(
        &wh,
        "SELECT h.household_id, h.food_enough, h.clothing_ok, h.housing_route, h.household_size,
                h.income_wage + h.income_business + h.income_property + h.income_transfer AS income,
                h.exit_year, c.county_type
         FROM households h JOIN counties c ON c.county_code = substr(h.household_id, 1, 6)
         WHERE h.enumeration_status = 1",
        &[],
        &[],
    );
    let persons = sql(
        &wh,
        "SELECT household_id, birth_date, schooling_status, medical_insurance FROM persons",
        &[],
        &[],
    );
    let mut bad_members: HashMap<String, usize> = HashMap::new();
    let mut members: HashMap<String, usize> = HashMap::new();
    for l in persons.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        *members.entry(f[0].into()).or_default() += 1;
        let age = 2020 - f[1][..4].parse::<i32>().unwrap();
        let child_bad = (6..=15).contains(&age) && !matches!(f[2], "1" | "2" | "3");
        let uninsured = !matches!(f[3], "1" | "2" | "3");
        if child_bad || uninsured {
            *bad_members.entry(f[0].into()).or_default() += 1;
        }
    }
    let (mut met, mut total, mut wrong_persons, mut exited_persons) = (0.0, 0.0, 0.0, 0.0);
    for l in raw.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[7] == "3" {
            continue; // npc only
        }
        let guarantees = f[1] == "1"
            && f[2] == "1"
            && matches!(f[3], "1" | "2" | "3")
            && !bad_members.contains_key(f[0]);
        let above = f[5].parse::<f64>().unwrap() / f[4].parse::<f64>().unwrap() >= 4000.0;
        total += 1.0;
        if guarantees {
            met += 1.0;
        }
        if !f[6].is_empty() {
            let m = members.get(f[0]).copied().unwrap_or(0) as f64;
            exited_persons += m;
            if !(guarantees && above) {
                wrong_persons += m;
            }
        }
    }
    assert_eq!(got[&key("npc", "national", "00", "guarantees_met")].0, met);
    assert_eq!(
        got[&key("npc", "national", "00", "guarantees_met")].1,
        total
    );
    assert_eq!(
        got[&key("npc", "national", "00", "wrongly_exited_persons")].0,
        wrong_persons
    );
    assert_eq!(
        got[&key("npc", "national", "00", "wrongly_exited_persons")].1,
        exited_persons
    );

    // Same input, same bytes: a second run with other parallelism.
    let out2 = dir.path().join("out2");
    let o = run_pipeline(Path::new(&census_toml()), &wh, &out2, &["--threads", "2"]);
    assert!(o.status.success());
    // And with the joins that spill, as used at national scale.
    let out3 = dir.path().join("out3");
    let o = run_pipeline(Path::new(&census_toml()), &wh, &out3, &["--joins", "spill"]);
    assert!(o.status.success());
    assert_same_outputs(&out, &out3, "with --joins spill");
    for f in [
        "indicators.parquet",
        "indicators.csv",
        "village_exit.parquet",
        "village_exit.csv",
        "run_manifest.json",
    ] {
        let (a, b) = (
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap(),
        );
        if f == "run_manifest.json" {
            // Same content but for nothing: the manifest holds no time or path of the output.
            assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
        } else {
            assert!(a == b, "{f} differs between runs");
        }
    }
}

#[test]
fn join_filters_in_scans_change_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let subs = crate::support::generated_submissions(dir.path(), 0.002, &["45", "62"]);
    // census.toml runs without them; a copy of the definitions runs with them.
    let (wh, out) = ingest_and_run(dir.path(), &[&subs], &[]);
    let defs = copy_definitions(dir.path());
    let toml = defs.join("pipelines/census.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("join_filters_in_scans = false"));
    std::fs::write(
        &toml,
        text.replace(
            "join_filters_in_scans = false",
            "join_filters_in_scans = true",
        ),
    )
    .unwrap();
    let with = dir.path().join("with");
    let o = run_pipeline(&toml, &wh, &with, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_outputs(&out, &with, "with join filters in the scans");
}

#[test]
fn steps_run_by_province_give_the_rows_of_the_whole_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let subs = crate::support::generated_submissions(dir.path(), 0.005, &["45", "52", "62"]);
    // Everything fits in the default pool: the steps run over the whole snapshot at once.
    let (wh, whole) = ingest_and_run(dir.path(), &[&subs], &[]);
    // With sort-merge joins over the whole snapshot, the steps run a province at a time.
    let provincial = dir.path().join("provincial");
    let (toml, out) = (census_toml(), provincial.display().to_string());
    let o = crate::ingest::povcensus_env(
        &[
            "run",
            &toml,
            "--warehouse",
            &wh,
            "--out",
            &out,
            "--joins",
            "spill",
        ],
        &[("RUST_LOG".into(), "povcensus=info".into())],
    );
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    for step in [
        "county_household_sums",
        "county_person_sums",
        "village_exit",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("running by province") && l.contains(step)),
            "{step} did not run by province: {log}"
        );
    }
    assert_same_outputs(&whole, &provincial, "with the steps run by province");
}

#[test]
fn a_view_two_steps_read_is_computed_once_with_the_same_bytes_out() {
    let dir = tempfile::tempdir().unwrap();
    let subs = crate::support::generated_submissions(dir.path(), 0.002, &["52"]);
    let (wh, _) = ingest_and_run(dir.path(), &[&subs], &[]);
    let info = [("RUST_LOG".to_string(), "povcensus=info".to_string())];
    let run = |toml: &Path, out: &Path| {
        let (toml, out) = (toml.display().to_string(), out.display().to_string());
        let args = ["run", &toml, "--warehouse", &wh, "--out", &out];
        let o = crate::ingest::povcensus_env(&args, &info);
        let log = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{log}");
        log
    };
    let kept_line = |log: &str, view: &str| {
        log.lines()
            .any(|l| l.contains("computed once and kept") && l.contains(view))
    };
    // The county sums and the village exits both read the household facts.
    let once = dir.path().join("once");
    let log = run(Path::new(&census_toml()), &once);
    assert!(kept_line(&log, "household_facts"), "{log}");
    // A copy where the village exits read a second view of the same SQL: each view has one
    // reader, and is computed where it is read.
    let defs = copy_definitions(dir.path());
    let toml = defs.join("pipelines/census.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let village = "name = \"village_exit\"\nsql = \"census/village_exit.sql\"\ndepends_on = [\"household_facts\"]";
    assert!(text.contains(village));
    let text = text.replace(
        village,
        &village.replace("[\"household_facts\"]", "[\"household_facts_again\"]"),
    ) + "\n[[steps]]\nname = \"household_facts_again\"\nsql = \"census/household_facts.sql\"\ndepends_on = [\"person_ages\"]\n";
    std::fs::write(&toml, text).unwrap();
    let sql = defs.join("queries/census/village_exit.sql");
    let village_sql = std::fs::read_to_string(&sql).unwrap();
    assert!(village_sql.contains("FROM household_facts\n"));
    std::fs::write(
        &sql,
        village_sql.replace("FROM household_facts\n", "FROM household_facts_again\n"),
    )
    .unwrap();
    let each = dir.path().join("each");
    let log = run(&toml, &each);
    assert!(!kept_line(&log, "household_facts"), "{log}");
    assert_same_outputs(
        &once,
        &each,
        "with the household facts computed for each reader",
    );
}

/// A copy of the repository's `pipelines/` and `queries/` in `dir/defs`, to change.
fn copy_definitions(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let defs = dir.join("defs");
    for d in ["pipelines", "queries"] {
        crate::support::copy_dir(&root.join(d), &defs.join(d));
    }
    defs
}

/// The census outputs written into `a` and `b` are the same bytes (`how` `b` was made).
fn assert_same_outputs(a: &Path, b: &Path, how: &str) {
    for f in [
        "indicators.parquet",
        "indicators.csv",
        "village_exit.parquet",
        "village_exit.csv",
    ] {
        let same = std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap();
        assert!(same, "{f} differs {how}");
    }
}

#[test]
fn an_invalid_pipeline_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pipelines")).unwrap();
    std::fs::create_dir_all(dir.path().join("queries")).unwrap();
    let p = dir.path().join("pipelines/bad.toml");
    std::fs::write(&p, "name = \"bad\"\n[[steps]]\nname = \"a\"\nsql = \"nope.sql\"\n[[steps]]\nname = \"b\"\nbuiltin = \"x\"\n").unwrap();
    let o = povcensus(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        "wh",
        "--out",
        "out",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml has 3 problem(s)"), "{err}");
    assert!(err.contains("no step has output = true"), "{err}");
    assert!(err.contains("steps[0] (`a`).sql: cannot read"), "{err}");
    assert!(err.contains("unknown built-in `x`"), "{err}");
}
