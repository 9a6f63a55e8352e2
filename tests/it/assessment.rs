//! `povcensus run pipelines/exit_assessment.toml`: hand-computed small cases (lonely PSUs, an
//! empty base, a single-PSU county) and agreement with the svy survey package on generated
//! samples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use povcensus::generator::{self, GenerateOptions};

use crate::ingest::{povcensus, run_pipeline, sql};
use crate::support::{python, rscript};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Ingest `subs` into `dir/wh` and run the exit-assessment pipeline into `dir/out`.
fn ingest_and_assess(dir: &Path, subs: &Path) -> (String, PathBuf) {
    ingest_and_assess_with(dir, subs, &[])
}

/// The same with pipeline parameters (`--param name=value`).
fn ingest_and_assess_with(dir: &Path, subs: &Path, params: &[&str]) -> (String, PathBuf) {
    let wh = dir.join("wh").display().to_string();
    let o = povcensus(&["ingest", subs.to_str().unwrap(), "--warehouse", &wh]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "ingest: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = dir.join("out");
    let toml = root().join("pipelines/exit_assessment.toml");
    let mut args = vec![
        "run",
        toml.to_str().unwrap(),
        "--warehouse",
        &wh,
        "--out",
        out.to_str().unwrap(),
    ];
    for p in params {
        args.extend(["--param", p]);
    }
    let o = povcensus(&args);
    assert!(
        o.status.success(),
        "run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (wh, out)
}

/// Generate the given provinces with every county of types 1-2 surveyed, ingest them into
/// `dir/wh` and run the exit-assessment pipeline into `dir/out`.
fn generate_and_assess(dir: &Path, scale: f64, seed: u64, provinces: &[&str]) -> (String, PathBuf) {
    let subs = dir.join("subs");
    let mut g = GenerateOptions::new(&subs);
    g.scale = scale;
    g.seed = seed;
    g.assess_all = true;
    g.provinces = Some(provinces.iter().map(|s| s.to_string()).collect());
    generator::generate(&g).unwrap();
    ingest_and_assess(dir, &subs)
}

fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// One value of an output row, as an enum that compares loosely enough for tests.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    F(f64),
    I(i64),
    B(bool),
    S(String),
}

/// The rows of `exit_assessment`, keyed by county, as column → value.
fn rows(batch: &RecordBatch) -> BTreeMap<String, BTreeMap<String, V>> {
    let mut out = BTreeMap::new();
    for r in 0..batch.num_rows() {
        let mut row = BTreeMap::new();
        for (i, f) in batch.schema().fields().iter().enumerate() {
            let c = batch.column(i);
            let c = if c.data_type() == &arrow::datatypes::DataType::Utf8View {
                arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).unwrap()
            } else {
                c.clone()
            };
            let v = if c.is_null(r) {
                V::Null
            } else {
                match c.data_type() {
                    arrow::datatypes::DataType::Float64 => {
                        V::F(c.as_primitive::<Float64Type>().value(r))
                    }
                    arrow::datatypes::DataType::Int64 => {
                        V::I(c.as_primitive::<Int64Type>().value(r))
                    }
                    arrow::datatypes::DataType::Boolean => V::B(c.as_boolean().value(r)),
                    arrow::datatypes::DataType::Utf8 => V::S(c.as_string::<i32>().value(r).into()),
                    t => panic!("column {} has type {t}", f.name()),
                }
            };
            row.insert(f.name().clone(), v);
        }
        let key = match &row["county_code"] {
            V::S(s) => s.clone(),
            v => panic!("county_code {v:?}"),
        };
        out.insert(key, row);
    }
    out
}

fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-12_f64.max(1e-12 * want.abs());
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

fn f(row: &BTreeMap<String, V>, col: &str) -> Option<f64> {
    match &row[col] {
        V::F(x) => Some(*x),
        V::I(x) => Some(*x as f64),
        V::Null => None,
        v => panic!("{col} is {v:?}"),
    }
}

/// The hand-made census fixture with an evaluators' sample added:
///
/// county 522726 (western, threshold 3 %; 6 registered persons of whom 5 exited, 2 of them in
/// a household that does not meet the exit standard; rural population 150):
///   village A 522726001001, stratum 1        village B 522726002001, stratum 2
///   type 1, w 2, 3 persons, wrongly exited   type 2, w 1, 1 person, approval 1
///   type 1, w 2, 2 persons, approval 3       type 3, w 20, 2 persons, 0 missed
///   type 3, w 10, 4 persons, 1 missed
/// Both strata have one PSU (lonely), df = 2 − 2 → 1.
///
/// county 520102: one PSU, type 3 only: no base for the wrongful-exit rate and no variance.
const SAMPLE: &str = "\
county_code,stratum,village_code,sample_type,household_id,weight,persons,wrongly_exited,missed_persons,approval
522726,1,522726001001,1,5227260010010001,2,3,1,,1
522726,1,522726001001,1,5227260010010002,2,2,2,,3
522726,1,522726001001,3,,10,4,,1,2
522726,2,522726002001,2,5227260020010001,1,1,,,1
522726,2,522726002001,3,,20,2,,0,1
520102,2,520102001001,3,,5,2,,0,1
";

#[test]
fn hand_computed_county_assessment() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("52");
    std::fs::create_dir_all(&subs).unwrap();
    for e in std::fs::read_dir(root().join("tests/fixtures/pipeline/52")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, subs.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(subs.join("assessment_households.csv"), SAMPLE).unwrap();
    let manifest = subs.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["files"]["assessment_households.csv"] = serde_json::json!({ "rows": 6 });
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();

    let (_, out) = ingest_and_assess(dir.path(), &subs);
    let batch = read_parquet(&out.join("exit_assessment.parquet"));
    // The columns of exit-assessment.md §5 (version 2), in order, in Parquet and CSV.
    let spec = "county_code, county_name, province_code, region, threshold_pct, \
        sampled_households, psus, strata, lonely_psu_strata, wrong_exit_pct, wrong_exit_se, \
        wrong_exit_ci_low, wrong_exit_ci_high, wrong_exit_deff, wrong_exit_n_eff, missed_pct, \
        missed_se, missed_ci_low, missed_ci_high, missed_deff, missed_n_eff, approval_pct, \
        approval_se, approval_ci_low, approval_ci_high, approval_deff, approval_n_eff, \
        incidence_pct, incidence_se, incidence_ci_low, incidence_ci_high, \
        census_wrong_exit_pct, census_check, passes_incidence, passes_wrong_exit, \
        passes_missed, passes_approval, exit_recommended, confidence";
    let spec: Vec<&str> = spec.split(", ").collect();
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, spec);
    let csv = std::fs::read_to_string(out.join("exit_assessment.csv")).unwrap();
    assert_eq!(
        csv.strip_prefix('\u{feff}')
            .unwrap()
            .lines()
            .next()
            .unwrap(),
        spec.join(",")
    );
    let got = rows(&batch);
    assert_eq!(got.len(), 2);
    let c = &got["522726"];
    // Wrongful exit: Y = 2·3 = 6, X = 2·3 + 2·2 = 10 → 60 %; all type-1 households are in PSU A,
    // so every PSU's linearized value is 0 and the SE is exactly 0.
    // Missed: Y = 10·1 = 10, X = 10·4 + 20·2 = 80 → 12.5 %; z_A = (10 − 0.125·40)/80 = 0.0625,
    // z_B = −0.0625; lonely strata centred on the mean 0: v = 2·0.0625².
    // Approval: 33 of 35 weight → 94.2857… %; z_A = (12 − 33/35·14)/35 = −1.2/35, z_B = +1.2/35.
    // Incidence: (1 + 0.6·5 + 0.125·144)/150 = 22/150; z = (5·z_err + 144·z_miss)/150 = ±0.06.
    let se_miss = 100.0 * (2.0 * 0.0625f64 * 0.0625).sqrt();
    let se_appr = 100.0 * (2.0 * (1.2f64 / 35.0).powi(2)).sqrt();
    let se_inc = 100.0 * (2.0 * 0.06f64 * 0.06).sqrt();
    // Korn–Graubard (§3), df = 1, t(n − 1)/t(df) = 1 for n = 2:
    // wrongful exit: v = 0, so n_eff = n = 2 (type-1 households) and no design effect;
    //   Beta(2·0.6, 2·0.4 + 1) and Beta(2·0.6 + 1, 2·0.4): R qbeta(.025, 1.2, 1.8),
    //   qbeta(.975, 2.2, .8).
    // missed: p(1 − p)/v = 0.109375/0.0078125 = 14, truncated at n = 2; deff = v·2/0.109375 =
    //   1/7; R qbeta(.025, .25, 2.75), qbeta(.975, 1.25, 1.75).
    // approval: p(1 − p)/v = (66/1225)/(2.88/1225) = 22.91…, times (t(.975, 4)/t(.975, 1))²:
    //   1.0942030787230297 (R); deff = 5·2.88/66; the upper quantile is 1 to double precision.
    // incidence: (1 + 5·err + 144·miss)/150 at the rates' bounds.
    let (err_lo, err_hi) = (2.6773993184934397e-02, 9.956705508840832e-01);
    let (miss_lo, miss_hi) = (1.1026987548656265e-07, 8.976088018266617e-01);
    let expect = [
        ("threshold_pct", Some(3.0)),
        ("sampled_households", Some(5.0)),
        ("psus", Some(2.0)),
        ("strata", Some(2.0)),
        ("lonely_psu_strata", Some(2.0)),
        ("wrong_exit_pct", Some(60.0)),
        ("wrong_exit_se", Some(0.0)),
        ("wrong_exit_ci_low", Some(100.0 * err_lo)),
        ("wrong_exit_ci_high", Some(100.0 * err_hi)),
        ("wrong_exit_deff", None),
        ("wrong_exit_n_eff", Some(2.0)),
        ("missed_pct", Some(12.5)),
        ("missed_se", Some(se_miss)),
        ("missed_ci_low", Some(100.0 * miss_lo)),
        ("missed_ci_high", Some(100.0 * miss_hi)),
        ("missed_deff", Some(1.0 / 7.0)),
        ("missed_n_eff", Some(2.0)),
        ("approval_pct", Some(100.0 * 33.0 / 35.0)),
        ("approval_se", Some(se_appr)),
        ("approval_ci_low", Some(100.0 * 2.6389624842669285e-02)),
        ("approval_ci_high", Some(100.0)),
        ("approval_deff", Some(5.0 * 2.88 / 66.0)),
        ("approval_n_eff", Some(1.0942030787230297)),
        ("incidence_pct", Some(100.0 * 22.0 / 150.0)),
        ("incidence_se", Some(se_inc)),
        (
            "incidence_ci_low",
            Some(100.0 * (1.0 + 5.0 * err_lo + 144.0 * miss_lo) / 150.0),
        ),
        (
            "incidence_ci_high",
            Some(100.0 * (1.0 + 5.0 * err_hi + 144.0 * miss_hi) / 150.0),
        ),
        ("census_wrong_exit_pct", Some(40.0)),
    ];
    for (col, want) in expect {
        match (f(c, col), want) {
            (Some(g), Some(w)) => close(g, w, col),
            (g, w) => assert_eq!(g, w, "{col}"),
        }
    }
    assert_eq!(c["county_name"], V::S("独山县".into()));
    assert_eq!(c["region"], V::S("western".into()));
    assert_eq!(c["passes_incidence"], V::B(false));
    assert_eq!(c["passes_wrong_exit"], V::B(false));
    assert_eq!(c["passes_missed"], V::B(false));
    assert_eq!(c["passes_approval"], V::B(true));
    assert_eq!(c["exit_recommended"], V::B(false));
    assert_eq!(c["confidence"], V::S("fail".into()));
    // The census share (40 %) lies inside the wrongful-exit interval.
    assert_eq!(c["census_check"], V::S("consistent".into()));

    // No type-1 household: no wrongful-exit rate, hence no incidence and no decision on them;
    // one PSU: estimates without standard errors (NULL, not 0).
    let c = &got["520102"];
    for col in [
        "wrong_exit_pct",
        "wrong_exit_se",
        "incidence_pct",
        "incidence_se",
        "missed_se",
        "missed_ci_low",
        "approval_se",
        "approval_ci_high",
        // A domain with no sampled household (wrongful exit) and a county with one PSU: no
        // design effects, effective sizes, intervals or census check.
        "wrong_exit_ci_low",
        "wrong_exit_ci_high",
        "wrong_exit_deff",
        "wrong_exit_n_eff",
        "missed_ci_high",
        "missed_deff",
        "missed_n_eff",
        "approval_ci_low",
        "approval_deff",
        "approval_n_eff",
        "incidence_ci_low",
        "incidence_ci_high",
        "census_check",
    ] {
        assert_eq!(c[col], V::Null, "{col}");
    }
    assert_eq!(f(c, "missed_pct"), Some(0.0));
    // Its one exited household (2 persons) meets the exit standard.
    assert_eq!(f(c, "census_wrong_exit_pct"), Some(0.0));
    assert_eq!(f(c, "approval_pct"), Some(100.0));
    assert_eq!(c["passes_wrong_exit"], V::Null);
    assert_eq!(c["passes_approval"], V::B(true));
    assert_eq!(c["exit_recommended"], V::B(false));
    assert_eq!(c["confidence"], V::S("fail".into()));

    // The design table lists the lonely strata; the follow-up list names households by
    // household_id or village only.
    let design = std::fs::read_to_string(out.join("exit_assessment_design.csv")).unwrap();
    assert_eq!(
        design.trim_start_matches('\u{feff}'),
        "county_code,stratum,stratum_name,psus,households,lonely\n\
         520102,2,非贫困村,1,1,true\n\
         522726,1,贫困村,1,3,true\n\
         522726,2,非贫困村,1,2,true\n"
    );
    let followup = std::fs::read_to_string(out.join("exit_followup.csv")).unwrap();
    assert_eq!(
        followup.trim_start_matches('\u{feff}'),
        "county_code,village_code,stratum,sample_type,household_id,finding,finding_name,persons,missed_persons\n\
         522726,522726001001,1,1,5227260010010001,wrongly_exited,错退,3,\n\
         522726,522726001001,1,3,,missed_persons,漏评,4,1\n"
    );
}

/// Confidence on a small sample: a sample that finds nothing wrong is not certain (version 2:
/// the Korn–Graubard upper bound of a zero rate is above 0), so the county is borderline, not
/// robust; with one disapproving household too.
#[test]
fn confidence_follows_the_intervals() {
    // One county, two strata of two PSUs each; every household approves, nobody was wrongly
    // exited or missed: all four estimates pass, but with 2 type-1 and 2 type-3 households the
    // upper bounds of the zero rates are far above 2 % → borderline (version 1 called this
    // robust, its Wald intervals having width 0).
    // Then one disapproving household of weight 1 (of 35) in one PSU: approval 34/35 passes,
    // its interval reaches below 90 % → borderline.
    let base = "\
county_code,stratum,village_code,sample_type,household_id,weight,persons,wrongly_exited,missed_persons,approval
522726,1,522726001001,1,5227260010010001,2,3,2,,1
522726,1,522726001001,1,5227260010010002,2,2,2,,1
522726,1,522726001002,3,,10,4,,0,1
522726,2,522726002001,2,5227260020010001,1,1,,,APPROVAL
522726,2,522726002002,3,,20,2,,0,1
";
    let mut confidence = Vec::new();
    for approval in ["1", "3"] {
        let dir = tempfile::tempdir().unwrap();
        let subs = dir.path().join("52");
        std::fs::create_dir_all(&subs).unwrap();
        for e in std::fs::read_dir(root().join("tests/fixtures/pipeline/52")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, subs.join(p.file_name().unwrap())).unwrap();
        }
        // Two more villages so that each stratum has two PSUs; the census of county 522726
        // gets 500 more rural residents so that its incidence passes.
        let villages = std::fs::read_to_string(subs.join("villages.csv")).unwrap();
        let extra: String = villages
            .lines()
            .filter(|l| l.starts_with("522726"))
            .map(|l| format!("{}\n", l.replacen("001,", "002,", 1)))
            .collect();
        std::fs::write(subs.join("villages.csv"), villages + &extra).unwrap();
        let counties = std::fs::read_to_string(subs.join("counties.csv"))
            .unwrap()
            .replace(",1,150,", ",1,650,");
        std::fs::write(subs.join("counties.csv"), counties).unwrap();
        std::fs::write(
            subs.join("assessment_households.csv"),
            base.replace("APPROVAL", approval),
        )
        .unwrap();
        let manifest = subs.join("manifest.json");
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        m["files"]["assessment_households.csv"] = serde_json::json!({ "rows": 5 });
        m["files"]["villages.csv"] = serde_json::json!({ "rows": 5 });
        std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
        let (_, out) = ingest_and_assess(dir.path(), &subs);
        let got = rows(&read_parquet(&out.join("exit_assessment.parquet")));
        let c = &got["522726"];
        assert_eq!(f(c, "psus"), Some(4.0));
        assert_eq!(f(c, "lonely_psu_strata"), Some(0.0));
        confidence.push((
            c["exit_recommended"].clone(),
            c["confidence"].clone(),
            f(c, "approval_pct").unwrap(),
            f(c, "approval_ci_low").unwrap(),
        ));
        if approval == "1" {
            // p = 0 with v = 0: n_eff = n = 2 (the factor (t(.975, 1)/t(.975, 2))² > 1 is
            // truncated at n), upper = the .975 quantile of Beta(1, 2) = 1 − 0.025^(1/2).
            let upper = 100.0 * (1.0 - 0.025f64.sqrt());
            for ind in ["wrong_exit", "missed"] {
                assert_eq!(f(c, &format!("{ind}_pct")), Some(0.0), "{ind}");
                assert_eq!(f(c, &format!("{ind}_ci_low")), Some(0.0), "{ind}");
                close(f(c, &format!("{ind}_ci_high")).unwrap(), upper, ind);
                assert_eq!(f(c, &format!("{ind}_n_eff")), Some(2.0), "{ind}");
                assert_eq!(c[&format!("{ind}_deff")], V::Null, "{ind}: p = 0");
            }
            // p = 1 with v = 0: n_eff = 5·(t(.975, 4)/t(.975, 2))² (R qt), lower = the .025
            // quantile of Beta(n_eff, 1) = 0.025^(1/n_eff), upper = 1.
            let n_eff = 5.0 * (2.7764451051977987f64 / 4.302652729749464).powi(2);
            close(f(c, "approval_n_eff").unwrap(), n_eff, "approval n_eff");
            close(
                f(c, "approval_ci_low").unwrap(),
                100.0 * 0.025f64.powf(1.0 / n_eff),
                "approval low",
            );
            assert_eq!(f(c, "approval_ci_high"), Some(100.0));
            assert_eq!(c["approval_deff"], V::Null);
        }
    }
    assert_eq!(confidence[0].0, V::B(true));
    assert_eq!(confidence[0].1, V::S("borderline".into()));
    let (rec, conf, est, low) = &confidence[1];
    close(*est, 100.0 * 34.0 / 35.0, "approval");
    assert!(*low < 90.0, "approval interval from {low}");
    assert_eq!(*rec, V::B(true));
    assert_eq!(*conf, V::S("borderline".into()));
}

/// Estimates and standard errors agree with the svy survey package (design of
/// exit-assessment.md §3, lonely PSUs "center" = R's "adjust") on generated samples of every
/// county of types 1-2, to 1e-9 relative.
#[test]
fn estimates_agree_with_the_svy_survey_package() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, out) = generate_and_assess(dir.path(), 0.004, 7, &["45", "52", "53", "62"]);

    // The inputs of the reference, read back from the warehouse; the census frame with SQL
    // written here, independently of the pipeline's.
    let sample = sql(
        &wh,
        "SELECT county_code, stratum, village_code, sample_type, weight, persons, \
         wrongly_exited, missed_persons, approval FROM assessment_households",
        &[],
        &[],
    );
    let frame = sql(
        &wh,
        "SELECT c.county_code, c.rural_population, \
                COALESCE(r.exited, 0) AS n_exited, \
                COALESCE(r.registered, 0) - COALESCE(r.exited, 0) AS n_remaining, \
                c.rural_population - COALESCE(r.registered, 0) AS n_nonreg \
         FROM counties c LEFT JOIN ( \
             SELECT h.county, COUNT(*) AS registered, \
                    COUNT(*) FILTER (WHERE h.exit_year IS NOT NULL) AS exited \
             FROM persons p JOIN (SELECT household_id, exit_year, \
                                         left(household_id, 6) AS county \
                                  FROM households WHERE enumeration_status = 1) h \
               ON h.household_id = p.household_id GROUP BY h.county) r \
           ON r.county = c.county_code",
        &[],
        &[],
    );
    std::fs::write(dir.path().join("sample.csv"), sample).unwrap();
    std::fs::write(dir.path().join("frame.csv"), frame).unwrap();
    let o = Command::new(python())
        .arg(root().join("tests/python/svy_assessment.py"))
        .arg(dir.path().join("sample.csv"))
        .arg(dir.path().join("frame.csv"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "svy: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reference: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let got = rows(&read_parquet(&out.join("exit_assessment.parquet")));
    assert_eq!(got.len(), reference.len(), "one row per assessed county");
    assert!(got.len() >= 12, "{} counties", got.len());
    let (mut lonely, mut zero_wrong, mut some_wrong) = (0, 0, 0);
    for r in &reference {
        let county = r["county_code"].as_str().unwrap();
        let row = &got[county];
        for ind in ["wrong_exit", "missed", "approval", "incidence"] {
            let want = r[ind].as_array().unwrap();
            // Estimates and standard errors; svy's intervals are Wald intervals (version 1), the
            // Korn–Graubard intervals are checked against R's survey package below.
            let cols = [format!("{ind}_pct"), format!("{ind}_se")];
            for (col, w) in cols.iter().zip(want) {
                let w = w.as_f64().unwrap();
                let g = f(row, col).unwrap_or_else(|| panic!("{county} {col} is NULL"));
                let tol = 1e-9 * w.abs().max(1e-6);
                assert!(
                    (g - w).abs() <= tol,
                    "{county} {col}: povcensus {g}, svy {w}"
                );
            }
        }
        let df = r["df"].as_i64().unwrap();
        assert_eq!(
            Some(df as f64),
            Some(f(row, "psus").unwrap() - f(row, "strata").unwrap()),
            "{county} df"
        );
        let singletons = r["singletons"].as_i64().unwrap() as f64;
        assert_eq!(f(row, "lonely_psu_strata"), Some(singletons), "{county}");
        lonely += usize::from(singletons > 0.0);
        let wrong = f(row, "wrong_exit_pct").unwrap();
        zero_wrong += usize::from(wrong == 0.0);
        some_wrong += usize::from(wrong > 0.0);
    }
    // The comparison covered the cases that matter.
    assert!(lonely > 0, "no county with a lonely-PSU stratum");
    assert!(zero_wrong > 0, "no county without wrongful exits");
    assert!(some_wrong > 0, "no county with wrongful exits");

    // Decisions follow the estimates and thresholds.
    for (county, row) in &got {
        let thr = f(row, "threshold_pct").unwrap();
        let p = |c: &str| f(row, c).unwrap();
        let passes = [
            p("incidence_pct") < thr,
            p("wrong_exit_pct") < 2.0,
            p("missed_pct") < 2.0,
            p("approval_pct") >= 90.0,
        ];
        assert_eq!(
            row["exit_recommended"],
            V::B(passes.iter().all(|x| *x)),
            "{county}"
        );
        let robust = p("incidence_ci_high") < thr
            && p("wrong_exit_ci_high") < 2.0
            && p("missed_ci_high") < 2.0
            && p("approval_ci_low") >= 90.0;
        let want = if !passes.iter().all(|x| *x) {
            "fail"
        } else if robust {
            "robust"
        } else {
            "borderline"
        };
        assert_eq!(row["confidence"], V::S(want.into()), "{county}");
    }
}

/// The inputs of the reference scripts, read back from the warehouse: the sample, and the
/// census frame with SQL written here, independently of the pipeline's.
fn reference_inputs(wh: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let sample = sql(
        wh,
        "SELECT county_code, stratum, village_code, sample_type, weight, persons, \
         wrongly_exited, missed_persons, approval FROM assessment_households",
        &[],
        &[],
    );
    let frame = sql(
        wh,
        "SELECT c.county_code, c.rural_population, \
                COALESCE(r.exited, 0) AS n_exited, \
                COALESCE(r.registered, 0) - COALESCE(r.exited, 0) AS n_remaining, \
                c.rural_population - COALESCE(r.registered, 0) AS n_nonreg \
         FROM counties c LEFT JOIN ( \
             SELECT h.county, COUNT(*) AS registered, \
                    COUNT(*) FILTER (WHERE h.exit_year IS NOT NULL) AS exited \
             FROM persons p JOIN (SELECT household_id, exit_year, \
                                         left(household_id, 6) AS county \
                                  FROM households WHERE enumeration_status = 1) h \
               ON h.household_id = p.household_id GROUP BY h.county) r \
           ON r.county = c.county_code",
        &[],
        &[],
    );
    let (s, f) = (dir.join("sample.csv"), dir.join("frame.csv"));
    std::fs::write(&s, sample).unwrap();
    std::fs::write(&f, frame).unwrap();
    (s, f)
}

/// Korn–Graubard intervals, design effects, effective sample sizes and the conservative
/// incidence interval (exit-assessment.md §3, version 2) agree to 1e-9 with R's survey package
/// (`svyratio` variances, `svycontrast` for incidence, the bounds from R's `qt`/`qbeta`,
/// `tests/r/kg_assessment.R`) at the default level and at 90 %. Where the spec deliberately
/// differs from `svyciprop(method = "beta")` the difference shows: the same interval when
/// 0 < p < 1 and n_eff* < n; a wider one where the spec truncates n_eff* at n; and an interval
/// where svyciprop has none (p = 1, v = 0).
#[test]
fn korn_graubard_intervals_agree_with_r_survey() {
    let rscript = rscript();
    let dir = tempfile::tempdir().unwrap();
    let (wh, out95) = generate_and_assess(dir.path(), 0.004, 7, &["45", "52", "53", "62"]);
    let out90 = dir.path().join("out90");
    let toml = root().join("pipelines/exit_assessment.toml");
    let o = run_pipeline(&toml, &wh, &out90, &["--param", "confidence_level=0.9"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (sample, frame) = reference_inputs(&wh, dir.path());

    let (mut agree, mut truncated, mut certain) = (0, 0, 0);
    for (level, out) in [("0.95", &out95), ("0.9", &out90)] {
        let o = Command::new(&rscript)
            .arg(root().join("tests/r/kg_assessment.R"))
            .args([&sample, &frame])
            .arg(level)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "R: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8(o.stdout).unwrap();
        let mut lines = text.lines().filter(|l| !l.is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let got = rows(&read_parquet(&out.join("exit_assessment.parquet")));
        let mut compared = 0;
        for line in lines {
            let r: BTreeMap<&str, Option<f64>> = header
                .iter()
                .zip(line.split(','))
                .skip(1)
                .map(|(h, v)| (*h, v.parse::<f64>().ok()))
                .collect();
            let county = line.split(',').next().unwrap();
            let row = &got[county];
            for (col, want) in &r {
                if col.starts_with("svyciprop") || *col == "n" {
                    continue;
                }
                match (f(row, col), want) {
                    (Some(g), Some(w)) => {
                        let tol = 1e-9 * w.abs().max(1e-6);
                        assert!(
                            (g - w).abs() <= tol,
                            "level {level}, {county} {col}: povcensus {g}, R {w}"
                        );
                    }
                    (g, w) => assert_eq!(g, *w, "level {level}, {county} {col}"),
                }
            }
            compared += 1;
            // svyciprop(method = "beta") for approval, a plain proportion.
            let (p, n_eff, n) = (
                r["approval_pct"].unwrap(),
                r["approval_n_eff"].unwrap(),
                r["n"].unwrap(),
            );
            let (lo, hi) = (
                f(row, "approval_ci_low").unwrap(),
                f(row, "approval_ci_high").unwrap(),
            );
            // svyciprop's df is PSUs − strata without the floor at 1: none at 0.
            let df0 = f(row, "psus") == f(row, "strata");
            match (r["svyciprop_low"], r["svyciprop_high"]) {
                _ if df0 => {}
                (Some(slo), Some(shi)) if n_eff < n => {
                    assert!((lo - slo).abs() <= 1e-9 * slo, "{county}: {lo} vs {slo}");
                    assert!((hi - shi).abs() <= 1e-9 * shi, "{county}: {hi} vs {shi}");
                    agree += 1;
                }
                (Some(slo), Some(shi)) => {
                    // Truncated at n: svyciprop's larger n_eff gives a narrower interval.
                    assert!(
                        lo < slo && hi > shi,
                        "{county}: [{lo}, {hi}] vs [{slo}, {shi}]"
                    );
                    truncated += 1;
                }
                _ => {
                    // svyciprop has no interval when v = 0 (p = 0 or 1); the spec uses n.
                    assert!(p == 100.0 || p == 0.0, "{county}: svyciprop NaN at {p}");
                    assert!(n_eff > 0.0 && n_eff <= n, "{county}: {n_eff}");
                    assert!(lo < 100.0 && hi > 0.0, "{county}: [{lo}, {hi}]");
                    certain += 1;
                }
            }
        }
        // Counties with fewer than two PSUs are not in R's output: all their intervals empty.
        for (county, row) in &got {
            if f(row, "psus").unwrap() < 2.0 {
                assert_eq!(row["wrong_exit_ci_high"], V::Null, "{county}");
            } else {
                compared -= 1;
            }
        }
        assert_eq!(
            compared, 0,
            "level {level}: every county with 2+ PSUs compared"
        );
    }
    assert!(agree > 0, "no county where svyciprop and the spec agree");
    assert!(truncated > 0, "no county truncated at n");
    assert!(certain > 0, "no county with approval 100 %");

    // A lower confidence level gives narrower intervals.
    let (a, b) = (
        rows(&read_parquet(&out95.join("exit_assessment.parquet"))),
        rows(&read_parquet(&out90.join("exit_assessment.parquet"))),
    );
    for (county, r95) in &a {
        let r90 = &b[county];
        if let (Some(h95), Some(h90)) = (f(r95, "wrong_exit_ci_high"), f(r90, "wrong_exit_ci_high"))
        {
            assert!(h90 < h95, "{county}: {h90} vs {h95}");
        }
    }
}

/// Generated data at scale 0.01 with `--assess-all` (provinces 51–54, 30 counties, to keep the
/// test fast; a province's data does not depend on which others are generated): with samples
/// of 10–15 villages, counties that version 1's Wald intervals called robust are borderline
/// under the Korn–Graubard intervals, and no rate estimated at 0 has a zero-width interval.
/// With a higher poverty line for the census cross-check (5000 yuan: more exited households
/// miss the exit standard in the census than the survey's evaluators found), the counties whose
/// census share lies above the interval are `census_higher`, and exactly their reports carry
/// the warning; the evaluators' index shows the check of every county.
#[test]
fn small_samples_are_not_robust_and_census_higher_counties_are_warned() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, out) = generate_and_assess(dir.path(), 0.01, 11, &["51", "52", "53", "54"]);
    let got = rows(&read_parquet(&out.join("exit_assessment.parquet")));
    assert!(got.len() >= 20, "{} counties", got.len());

    // Version 1: estimate ± t(.975, df)·SE, clipped to [0, 100].
    let (mut v1_robust, mut v2_robust, mut zero_rates) = (0, 0, 0);
    for (county, row) in &got {
        let p = |c: &str| f(row, c);
        if row["exit_recommended"] != V::B(true) {
            continue;
        }
        let t = povcensus::assessment::t_quantile(
            0.975,
            (p("psus").unwrap() - p("strata").unwrap()).max(1.0),
        )
        .unwrap();
        let wald = |ind: &str| {
            let (e, se) = (p(&format!("{ind}_pct"))?, p(&format!("{ind}_se"))?);
            Some(((e - t * se).max(0.0), (e + t * se).min(100.0)))
        };
        let thr = p("threshold_pct").unwrap();
        let robust = (|| {
            Some(
                wald("incidence")?.1 < thr
                    && wald("wrong_exit")?.1 < 2.0
                    && wald("missed")?.1 < 2.0
                    && wald("approval")?.0 >= 90.0,
            )
        })()
        .unwrap_or(false);
        v1_robust += usize::from(robust);
        v2_robust += usize::from(row["confidence"] == V::S("robust".into()));
        for ind in ["wrong_exit", "missed"] {
            if p(&format!("{ind}_pct")) == Some(0.0) && p(&format!("{ind}_se")).is_some() {
                zero_rates += 1;
                assert_eq!(p(&format!("{ind}_ci_low")), Some(0.0), "{county} {ind}");
                let high = p(&format!("{ind}_ci_high")).unwrap();
                assert!(high > 0.0, "{county} {ind}: zero-width interval");
            }
        }
    }
    assert!(zero_rates > 0, "no rate estimated at 0");
    assert!(v1_robust > 0, "version 1 found no robust county");
    assert!(
        v2_robust < v1_robust,
        "robust counties: version 1 {v1_robust}, version 2 {v2_robust}"
    );

    // The reports, with the census cross-check at a 5000-yuan poverty line.
    let pipelines = dir.path().join("pipelines");
    std::fs::create_dir_all(&pipelines).unwrap();
    for name in ["census.toml", "exit_assessment.toml"] {
        let text = std::fs::read_to_string(root().join("pipelines").join(name)).unwrap();
        let text = if name == "exit_assessment.toml" {
            assert!(text.contains("poverty_line = 4000.0"));
            text.replace("poverty_line = 4000.0", "poverty_line = 5000.0")
        } else {
            text
        };
        std::fs::write(pipelines.join(name), text).unwrap();
    }
    crate::support::copy_dir(&root().join("queries"), &dir.path().join("queries"));
    let rep = dir.path().join("rep");
    let o = crate::matrix::report_into(&wh, &rep, &pipelines);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = rows(&read_parquet(
        &rep.join("data/assessment/exit_assessment.parquet"),
    ));
    let warning = "抽样调查可能漏查了错退户";
    let index = std::fs::read_to_string(rep.join("evaluator/index.html")).unwrap();
    let mut higher = 0;
    for (county, row) in &got {
        let page = std::fs::read_to_string(rep.join(format!("evaluator/{county}.html"))).unwrap();
        let is_higher = row["census_check"] == V::S("census_higher".into());
        higher += usize::from(is_higher);
        if is_higher {
            assert!(
                f(row, "census_wrong_exit_pct").unwrap() > f(row, "wrong_exit_ci_high").unwrap(),
                "{county}"
            );
        }
        assert_eq!(page.contains(warning), is_higher, "{county}: the warning");
        // Every county page explains the interval and shows design effects and effective sizes.
        assert!(page.contains("Korn–Graubard"), "{county}");
        assert!(
            page.contains("有效样本量") && page.contains("设计效应"),
            "{county}"
        );
    }
    assert!(higher > 0, "no census_higher county");
    assert!(higher < got.len(), "every county census_higher");
    assert_eq!(index.matches("普查高于区间上限").count(), higher);
    assert_eq!(
        index.matches("一致（普查比例在区间内）").count(),
        got.values()
            .filter(|r| r["census_check"] == V::S("consistent".into()))
            .count()
    );
}

/// A county with one PSU whose four estimates pass (nothing wrong found, full approval, no
/// remaining poverty): no design variance, so no standard errors, design effects, effective
/// sizes, intervals or census check, and its confidence is `borderline`, never `robust`.
#[test]
fn a_county_with_one_psu_is_never_robust() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("52");
    std::fs::create_dir_all(&subs).unwrap();
    for e in std::fs::read_dir(root().join("tests/fixtures/pipeline/52")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, subs.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        subs.join("assessment_households.csv"),
        "county_code,stratum,village_code,sample_type,household_id,weight,persons,wrongly_exited,missed_persons,approval\n\
         520102,2,520102001001,1,5201020010010001,5,2,2,,1\n\
         520102,2,520102001001,3,,5,2,,0,1\n",
    )
    .unwrap();
    let manifest = subs.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["files"]["assessment_households.csv"] = serde_json::json!({ "rows": 2 });
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let (_, out) = ingest_and_assess(dir.path(), &subs);
    let got = rows(&read_parquet(&out.join("exit_assessment.parquet")));
    let c = &got["520102"];
    assert_eq!(f(c, "psus"), Some(1.0));
    assert_eq!(f(c, "wrong_exit_pct"), Some(0.0));
    assert_eq!(f(c, "missed_pct"), Some(0.0));
    assert_eq!(f(c, "approval_pct"), Some(100.0));
    for ind in ["wrong_exit", "missed", "approval", "incidence"] {
        for col in ["se", "ci_low", "ci_high"] {
            assert_eq!(c[&format!("{ind}_{col}")], V::Null, "{ind}_{col}");
        }
    }
    for ind in ["wrong_exit", "missed", "approval"] {
        for col in ["deff", "n_eff"] {
            assert_eq!(c[&format!("{ind}_{col}")], V::Null, "{ind}_{col}");
        }
    }
    assert_eq!(c["census_check"], V::Null);
    assert_eq!(c["exit_recommended"], V::B(true));
    assert_eq!(c["confidence"], V::S("borderline".into()));
}
