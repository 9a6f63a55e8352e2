//! `povcensus run pipelines/exit_assessment.toml`: hand-computed small cases (lonely PSUs, an
//! empty base, a single-PSU county) and agreement with the svy survey package on generated
//! samples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use povcensus::generator::{self, GenerateOptions};

use crate::ingest::{povcensus, sql};
use crate::support::python;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Ingest `subs` into `dir/wh` and run the exit-assessment pipeline into `dir/out`.
fn ingest_and_assess(dir: &Path, subs: &Path) -> (String, PathBuf) {
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
    let o = povcensus(&[
        "run",
        toml.to_str().unwrap(),
        "--warehouse",
        &wh,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (wh, out)
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
    let got = rows(&read_parquet(&out.join("exit_assessment.parquet")));
    assert_eq!(got.len(), 2);
    let c = &got["522726"];
    let t1 = 12.706204736174705; // qt(0.975, 1)
    // Wrongful exit: Y = 2·3 = 6, X = 2·3 + 2·2 = 10 → 60 %; all type-1 households are in PSU A,
    // so every PSU's linearized value is 0 and the SE is exactly 0.
    // Missed: Y = 10·1 = 10, X = 10·4 + 20·2 = 80 → 12.5 %; z_A = (10 − 0.125·40)/80 = 0.0625,
    // z_B = −0.0625; lonely strata centred on the mean 0: v = 2·0.0625².
    // Approval: 33 of 35 weight → 94.2857… %; z_A = (12 − 33/35·14)/35 = −1.2/35, z_B = +1.2/35.
    // Incidence: (1 + 0.6·5 + 0.125·144)/150 = 22/150; z = (5·z_err + 144·z_miss)/150 = ±0.06.
    let se_miss = 100.0 * (2.0 * 0.0625f64 * 0.0625).sqrt();
    let se_appr = 100.0 * (2.0 * (1.2f64 / 35.0).powi(2)).sqrt();
    let se_inc = 100.0 * (2.0 * 0.06f64 * 0.06).sqrt();
    let expect = [
        ("threshold_pct", Some(3.0)),
        ("sampled_households", Some(5.0)),
        ("psus", Some(2.0)),
        ("strata", Some(2.0)),
        ("lonely_psu_strata", Some(2.0)),
        ("wrong_exit_pct", Some(60.0)),
        ("wrong_exit_se", Some(0.0)),
        ("wrong_exit_ci_low", Some(60.0)),
        ("wrong_exit_ci_high", Some(60.0)),
        ("missed_pct", Some(12.5)),
        ("missed_se", Some(se_miss)),
        ("missed_ci_low", Some(0.0)),
        ("missed_ci_high", Some(100.0)),
        ("approval_pct", Some(100.0 * 33.0 / 35.0)),
        ("approval_se", Some(se_appr)),
        ("approval_ci_low", Some(100.0 * 33.0 / 35.0 - t1 * se_appr)),
        ("approval_ci_high", Some(100.0)),
        ("incidence_pct", Some(100.0 * 22.0 / 150.0)),
        ("incidence_se", Some(se_inc)),
        ("incidence_ci_low", Some(0.0)),
        ("incidence_ci_high", Some(100.0)), // 14.67 + 12.71·8.49 > 100
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

/// Confidence levels on the same sample: robust when every interval is on the passing side,
/// borderline when an interval crosses a threshold, fail when an estimate fails.
#[test]
fn confidence_follows_the_intervals() {
    // One county, two strata of two PSUs each; every household approves, nobody was wrongly
    // exited or missed: all four estimates pass with intervals of width 0 → robust.
    // Then one disapproving household of weight 1 (of 35) in one PSU: approval 34/35 passes,
    // but with df = 4 − 2 = 2 its interval reaches below 90 % → borderline.
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
    }
    assert_eq!(confidence[0].0, V::B(true));
    assert_eq!(confidence[0].1, V::S("robust".into()));
    let (rec, conf, est, low) = &confidence[1];
    close(*est, 100.0 * 34.0 / 35.0, "approval");
    assert!(*low < 90.0, "approval interval from {low}");
    assert_eq!(*rec, V::B(true));
    assert_eq!(*conf, V::S("borderline".into()));
}

/// Estimates, standard errors and intervals agree with the svy survey package (design of
/// exit-assessment.md §3, lonely PSUs "center" = R's "adjust") on generated samples of every
/// county of types 1-2, to 1e-9 relative.
#[test]
fn estimates_agree_with_the_svy_survey_package() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let mut g = GenerateOptions::new(&subs);
    g.scale = 0.004;
    g.seed = 7;
    g.assess_all = true;
    g.provinces = Some(
        ["45", "52", "53", "62"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    generator::generate(&g).unwrap();
    let (wh, out) = ingest_and_assess(dir.path(), &subs);

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
            let cols = [
                format!("{ind}_pct"),
                format!("{ind}_se"),
                format!("{ind}_ci_low"),
                format!("{ind}_ci_high"),
            ];
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
