//! Every consumer command on every shape of warehouse: no panic, no half-written output.
//!
//! Shapes (each built once and shared by the tests): empty (no snapshot), clean (the committed
//! clean provinces, no rejected row), without any assessment survey, a single province (whose
//! county name is a spreadsheet formula), a province whose every file is rejected, and all 22
//! provinces at a tiny scale. Commands: `run` (both shipped pipelines), `report`, `extract`,
//! `sql -c`, `versions` and `serve` (one Flight SQL session from Python). The outputs must be
//! whole (index.html present, no temporary folder left), and empty tables keep their columns.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use povcensus::generator::{self, GenerateOptions};

use crate::ingest::povcensus;
use crate::support::{copy_dir, edit_submission_file, free_port, python, set_manifest_entry};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The name of the sampled county (450922) in the single-province shape: a live formula if
/// written as is.
pub const FORMULA_NAME: &str = "=HYPERLINK(\"http://example.invalid\",\"x\")";
/// The name of the assessed county (450421) there: with a terminal escape and a bell.
pub const CONTROL_NAME: &str = "苍梧\u{1b}[31m\u{7}县";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Empty,
    Clean,
    NoAssessment,
    Single,
    AllRejected,
    National,
}

/// A warehouse of one shape, built once per test process.
struct Fixture {
    _dir: tempfile::TempDir,
    wh: String,
    /// Provinces in its snapshot.
    provinces: Vec<&'static str>,
}

fn ingest(subs: &[&Path], wh: &Path, expect: i32) {
    let mut args = vec!["ingest".to_string()];
    args.extend(subs.iter().map(|p| p.display().to_string()));
    args.extend(["--warehouse".into(), wh.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = povcensus(&args);
    assert_eq!(o.status.code(), Some(expect), "ingest: {}", text(&o));
}

fn build(shape: Shape) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let samples = root().join("sample-data/submissions");
    let provinces: Vec<&'static str> = match shape {
        Shape::Empty => {
            std::fs::create_dir_all(&wh).unwrap();
            vec![]
        }
        Shape::Clean => {
            ingest(&[&samples], &wh, 0);
            vec!["45", "52", "53"]
        }
        Shape::NoAssessment => {
            let p = dir.path().join("subs/52");
            copy_dir(&samples.join("52"), &p);
            std::fs::remove_file(p.join("assessment_households.csv")).unwrap();
            set_manifest_entry(&p, "assessment_households.csv", None);
            ingest(&[&p], &wh, 0);
            vec!["52"]
        }
        Shape::Single => {
            let p = dir.path().join("subs/45");
            copy_dir(&samples.join("45"), &p);
            edit_submission_file(&p, "counties.csv", |h, mut rows| {
                let c = h.iter().position(|c| c == "county_name").unwrap();
                let k = h.iter().position(|c| c == "county_code").unwrap();
                for r in &mut rows {
                    r[c] = if r[k] == "450421" {
                        CONTROL_NAME
                    } else {
                        FORMULA_NAME
                    }
                    .to_string();
                }
                rows
            });
            ingest(&[&p], &wh, 0);
            vec!["45"]
        }
        Shape::AllRejected => {
            // Every file keeps its bytes' manifest entry but loses its header: each is
            // rejected whole.
            let p = dir.path().join("subs/52");
            copy_dir(&samples.join("52"), &p);
            for e in std::fs::read_dir(&p).unwrap() {
                let f = e.unwrap().path();
                if f.extension().is_some_and(|x| x == "csv") {
                    let t = std::fs::read_to_string(&f).unwrap();
                    let body = t.split_once('\n').map_or("", |(_, b)| b);
                    std::fs::write(&f, format!("not_a_column\n{body}")).unwrap();
                }
            }
            ingest(&[&p], &wh, 1);
            vec!["52"]
        }
        Shape::National => {
            let subs = dir.path().join("subs");
            let mut opts = GenerateOptions::new(&subs);
            opts.scale = 0.0001;
            opts.seed = 13;
            generator::generate(&opts).unwrap();
            ingest(&[&subs], &wh, 0);
            povcensus::contract::reference::Reference::get()
                .provinces
                .iter()
                .map(|p| p.code)
                .collect()
        }
    };
    Fixture {
        wh: wh.display().to_string(),
        _dir: dir,
        provinces,
    }
}

fn fixture(shape: Shape) -> &'static Fixture {
    static F: [OnceLock<Fixture>; 6] = [const { OnceLock::new() }; 6];
    F[shape as usize].get_or_init(|| build(shape))
}

/// Column names and row count of a Parquet file.
fn parquet_shape(path: &Path) -> (Vec<String>, usize) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let cols = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let rows = b.metadata().file_metadata().num_rows() as usize;
    (cols, rows)
}

/// The header and the number of data rows of a BOM CSV output.
fn csv_shape(path: &Path) -> (Vec<String>, usize) {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t = t
        .strip_prefix('\u{feff}')
        .expect("CSV outputs start with a BOM");
    let mut r = csv::Reader::from_reader(t.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    (header, r.records().count())
}

/// Entries of `dir`'s parent whose name starts with `.`: staging folders left behind.
fn leftovers(out: &Path) -> Vec<String> {
    let parent = out.parent().unwrap();
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// A command that needs a snapshot, on the empty warehouse: exit 2, a hint, no output.
fn assert_refused_without_snapshot(o: &Output, out: &Path) {
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no committed snapshot"), "{err}");
    assert!(err.contains("ingest submissions first"), "hint: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "no output folder is made");
    assert!(leftovers(out).is_empty(), "{:?}", leftovers(out));
}

#[derive(Clone, Copy)]
enum Rows {
    None,
    Some,
    Any,
}

const INDICATORS: &[&str] = &[
    "scope",
    "level",
    "area_code",
    "area_name",
    "indicator_id",
    "numerator",
    "denominator",
    "value",
];
const VILLAGE_EXIT: &[&str] = &[
    "village_code",
    "county_code",
    "poor_persons",
    "population",
    "incidence_pct",
    "threshold_pct",
    "passes",
];
const EXIT_ASSESSMENT: &[&str] = &[
    "county_code",
    "county_name",
    "province_code",
    "wrong_exit_pct",
    "wrong_exit_se",
    "missed_pct",
    "approval_pct",
    "incidence_pct",
    "exit_recommended",
    "confidence",
];
const DESIGN: &[&str] = &["county_code", "stratum", "psus", "households", "lonely"];
const FOLLOWUP: &[&str] = &["county_code", "village_code", "sample_type", "household_id"];

/// Check one output table: Parquet and CSV both there, with at least `columns` (in the same
/// order in both files) and the expected emptiness.
fn assert_table(dir: &Path, name: &str, columns: &[&str], rows: Rows) {
    let (pcols, prows) = parquet_shape(&dir.join(format!("{name}.parquet")));
    let (ccols, crows) = csv_shape(&dir.join(format!("{name}.csv")));
    for c in columns {
        assert!(
            pcols.iter().any(|p| p == c),
            "{name}.parquet lacks {c}: {pcols:?}"
        );
    }
    assert_eq!(pcols, ccols, "{name}: the CSV has the Parquet's columns");
    assert_eq!(prows, crows, "{name}: the same rows in both files");
    match rows {
        Rows::None => assert_eq!(prows, 0, "{name} is empty"),
        Rows::Some => assert!(prows > 0, "{name} has rows"),
        Rows::Any => {}
    }
}

fn run_pipeline(shape: Shape, pipeline: &str, tables: &[(&str, &[&str], Rows)]) {
    let f = fixture(shape);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = povcensus(&[
        "run",
        root().join("pipelines").join(pipeline).to_str().unwrap(),
        "--warehouse",
        &f.wh,
        "--out",
        out.to_str().unwrap(),
    ]);
    if shape == Shape::Empty {
        return assert_refused_without_snapshot(&o, &out);
    }
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.join("run_manifest.json").is_file());
    for (name, columns, rows) in tables {
        assert_table(&out, name, columns, *rows);
    }
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

fn census_rows(shape: Shape) -> Rows {
    if shape == Shape::AllRejected {
        Rows::None
    } else {
        Rows::Some
    }
}

fn assessment_rows(shape: Shape) -> Rows {
    match shape {
        Shape::Empty | Shape::AllRejected | Shape::NoAssessment => Rows::None,
        _ => Rows::Some,
    }
}

fn check_run_census(shape: Shape) {
    let rows = census_rows(shape);
    run_pipeline(
        shape,
        "census.toml",
        &[
            ("indicators", INDICATORS, rows),
            ("village_exit", VILLAGE_EXIT, rows),
        ],
    );
}

fn check_run_assessment(shape: Shape) {
    let rows = assessment_rows(shape);
    run_pipeline(
        shape,
        "exit_assessment.toml",
        &[
            ("exit_assessment", EXIT_ASSESSMENT, rows),
            ("exit_assessment_design", DESIGN, rows),
            ("exit_followup", FOLLOWUP, followup_rows(shape)),
        ],
    );
}

/// The follow-up list may be empty even where counties were assessed.
fn followup_rows(shape: Shape) -> Rows {
    match assessment_rows(shape) {
        Rows::None => Rows::None,
        _ => Rows::Any,
    }
}

fn check_report(shape: Shape) {
    let f = fixture(shape);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let o = povcensus(&[
        "report",
        "--warehouse",
        &f.wh,
        "--out",
        out.to_str().unwrap(),
        "--pipelines",
        root().join("pipelines").to_str().unwrap(),
        "--generated-at",
        "2021-02-25 10:00",
    ]);
    if shape == Shape::Empty {
        return assert_refused_without_snapshot(&o, &out);
    }
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        out.join("index.html").display().to_string()
    );
    for doc in [
        "index.html",
        "bulletin.html",
        "workbook.xlsx",
        "evaluator/index.html",
        "evaluator/summary.xlsx",
    ] {
        assert!(out.join(doc).is_file(), "{doc} is written");
    }
    for p in &f.provinces {
        assert!(
            out.join(format!("quality/{p}.html")).is_file(),
            "quality/{p}.html"
        );
        assert!(
            out.join(format!("quality/{p}.xlsx")).is_file(),
            "quality/{p}.xlsx"
        );
    }
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();
    match shape {
        Shape::Clean => {
            for p in &f.provinces {
                let q = read(&format!("quality/{p}.html"));
                assert!(
                    q.contains("全部通过") && !q.contains("请更正"),
                    "quality/{p}.html says 全部通过"
                );
            }
        }
        Shape::NoAssessment | Shape::AllRejected => {
            assert!(read("evaluator/index.html").contains("评估县：无"));
        }
        _ => {}
    }
    // The bulletin's scope line says what is loaded.
    let scope = match shape {
        Shape::National => "中西部22个省（区、市）".to_string(),
        Shape::Clean => "广西壮族自治区、贵州省和云南省3个省（区、市）".to_string(),
        _ => {
            let reference = povcensus::contract::reference::Reference::get();
            format!(
                "{}建档立卡户",
                reference.province(f.provinces[0]).unwrap().name
            )
        }
    };
    assert!(
        read("bulletin.html").contains(&format!("现将{scope}")),
        "{scope}"
    );
    if shape == Shape::AllRejected {
        let q = read("quality/52.html");
        assert!(q.contains("file.missing_column") || q.contains("file.manifest_sha256"));
    }
}

fn key_file(dir: &Path) -> PathBuf {
    let key = dir.join("key");
    std::fs::write(&key, "a matrix extract key, long enough").unwrap();
    key
}

fn extract_into(wh: &str, out: &Path, key: &Path) -> Output {
    povcensus(&[
        "extract",
        "--warehouse",
        wh,
        "--out",
        out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ])
}

fn check_extract(shape: Shape) {
    let f = fixture(shape);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("extract");
    let o = extract_into(&f.wh, &out, &key_file(dir.path()));
    if shape == Shape::Empty {
        return assert_refused_without_snapshot(&o, &out);
    }
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = census_rows(shape);
    assert_table(
        &out,
        "research_persons",
        &[
            "person_key",
            "household_key",
            "area_code",
            "sex",
            "age_band",
        ],
        rows,
    );
    assert_table(
        &out,
        "research_households",
        &["household_key", "area_code", "household_size"],
        rows,
    );
    for f in [
        "risk_report.html",
        "risk_report.json",
        "published_county_counts.csv",
        "published_tables.xlsx",
    ] {
        assert!(out.join(f).is_file(), "{f} is written");
    }
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

fn check_sql(shape: Shape) {
    let f = fixture(shape);
    let o = povcensus(&[
        "sql",
        "--warehouse",
        &f.wh,
        "--format",
        "csv",
        "-c",
        "SELECT COUNT(*) AS n, COUNT(DISTINCT province_code) AS p FROM rejects; \
         SELECT COUNT(*) AS n FROM assessment_households",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "n,p", "{out}");
    let rejects: u64 = lines[1].split(',').next().unwrap().parse().unwrap();
    match shape {
        Shape::AllRejected => assert!(rejects > 0),
        _ => assert_eq!(rejects, 0, "{out}"),
    }
    let assessed: u64 = lines[3].parse().unwrap();
    match assessment_rows(shape) {
        Rows::None => assert_eq!(assessed, 0),
        _ => assert!(assessed > 0),
    }
    if shape == Shape::Empty {
        assert!(String::from_utf8_lossy(&o.stderr).contains("no committed snapshot"));
    }
}

fn check_versions(shape: Shape) {
    let f = fixture(shape);
    let o = povcensus(&["versions", "--warehouse", &f.wh]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("snapshot"), "{out}");
    assert_eq!(
        lines.len() - 1,
        f.provinces.len(),
        "one line per province: {out}"
    );
    for p in &f.provinces {
        assert!(
            lines[1..]
                .iter()
                .any(|l| l.split_whitespace().nth(1) == Some(p)),
            "{p}: {out}"
        );
    }
    if shape == Shape::Empty {
        assert!(String::from_utf8_lossy(&o.stderr).contains("ingest submissions first"));
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tokens_file(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    crate::support::private_file(&tokens, "alice:alice-0123456789abcdef\n");
    tokens
}

fn serve_command(extract: &Path, tokens: &Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_povcensus"));
    c.args(["serve", "--extract"])
        .arg(extract)
        .arg("--tokens")
        .arg(tokens)
        .args(["--port", &port.to_string()])
        .env("RUST_LOG", "warn,povcensus=info")
        .stdin(Stdio::null());
    c
}

fn check_serve(shape: Shape) {
    let f = fixture(shape);
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("extract");
    let tokens = tokens_file(dir.path());
    if shape == Shape::Empty {
        // No extract can be made: serving the missing folder fails cleanly.
        let o = serve_command(&ex, &tokens, free_port()).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
        return;
    }
    let o = extract_into(&f.wh, &ex, &key_file(dir.path()));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (_, persons) = parquet_shape(&ex.join("research_persons.parquet"));
    let port = free_port();
    let child = serve_command(&ex, &tokens, port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    crate::support::wait_until_listening(port);
    let o = Command::new(python())
        .arg(root().join("tests/python/flight_client.py"))
        .arg(format!("grpc://127.0.0.1:{port}"))
        .arg("alice-0123456789abcdef")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "client: {}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        r["answers"]["SELECT COUNT(*) AS n FROM research_persons"][0][0].as_u64(),
        Some(persons as u64)
    );
}

macro_rules! matrix {
    ($($module:ident => $shape:expr),* $(,)?) => {
        $(
            mod $module {
                use super::*;

                #[test]
                fn run_census() {
                    check_run_census($shape)
                }

                #[test]
                fn run_exit_assessment() {
                    check_run_assessment($shape)
                }

                #[test]
                fn report() {
                    check_report($shape)
                }

                #[test]
                fn extract() {
                    check_extract($shape)
                }

                #[test]
                fn sql() {
                    check_sql($shape)
                }

                #[test]
                fn versions() {
                    check_versions($shape)
                }

                #[test]
                fn serve() {
                    check_serve($shape)
                }
            }
        )*
    };
}

matrix! {
    empty => Shape::Empty,
    clean => Shape::Clean,
    no_assessment => Shape::NoAssessment,
    single_province => Shape::Single,
    all_files_rejected => Shape::AllRejected,
    all_provinces => Shape::National,
}

// ---------------------------------------------------------------------------------------------
// The reported defects, one test each, and whole outputs.

/// `povcensus report` with a fixed generation time, so that reruns give the same bytes.
pub fn report_into(wh: &str, out: &Path, pipelines: &Path) -> Output {
    povcensus(&[
        "report",
        "--warehouse",
        wh,
        "--out",
        out.to_str().unwrap(),
        "--pipelines",
        pipelines.to_str().unwrap(),
        "--generated-at",
        "2021-02-25 10:00",
    ])
}

fn run_into(pipeline: &Path, wh: &str, out: &Path) -> Output {
    povcensus(&[
        "run",
        pipeline.to_str().unwrap(),
        "--warehouse",
        wh,
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_formula_in_a_county_name_reaches_csv_and_xlsx_as_text() {
    let f = fixture(Shape::Single);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = report_into(&f.wh, &out, &root().join("pipelines"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // CSV: the name is there, neutralised; no text cell starts a formula.
    let csv_text = std::fs::read_to_string(out.join("data/census/indicators.csv")).unwrap();
    let csv_text = csv_text.trim_start_matches('\u{feff}');
    let mut names = 0;
    for rec in csv::Reader::from_reader(csv_text.as_bytes()).records() {
        let rec = rec.unwrap();
        for cell in rec.iter() {
            assert!(
                !cell.starts_with(['=', '+', '@']),
                "a live formula in indicators.csv: {cell}"
            );
        }
        if rec.iter().any(|c| c == format!("'{FORMULA_NAME}")) {
            names += 1;
        }
    }
    assert!(names > 0, "the county's rows carry its (neutralised) name");
    // Numbers are not text: negative or not, they are written as numbers.
    assert!(!csv_text.contains("'-") && !csv_text.contains("'0"));
    // XLSX, read back with openpyxl: the county sheet has the name as text.
    let o = Command::new(python())
        .arg(root().join("tests/python/xlsx_dump.py"))
        .arg(out.join("workbook.xlsx"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let dump: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let book = dump.as_object().unwrap().values().next().unwrap();
    let mut seen = 0;
    // (The book also lists its sheet order under "_order".)
    for sheet in book.as_object().unwrap().values().filter(|s| s.is_object()) {
        for row in sheet["rows"].as_array().unwrap() {
            for cell in row.as_array().unwrap() {
                if let Some(s) = cell.as_str() {
                    assert!(!s.starts_with(['=', '+', '-', '@']), "xlsx cell {s}");
                    seen += usize::from(s == format!("'{FORMULA_NAME}"));
                }
            }
        }
    }
    assert!(seen > 0, "the workbook shows the name as text");
}

#[test]
fn control_characters_in_a_county_name_are_escaped_in_html() {
    let f = fixture(Shape::Single);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = report_into(&f.wh, &out, &root().join("pipelines"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The assessed county's page and the evaluators' summary show the name, escaped.
    for page in ["evaluator/450421.html", "evaluator/index.html"] {
        let html = std::fs::read_to_string(out.join(page)).unwrap();
        assert!(
            html.contains("苍梧\\u{001B}[31m\\u{0007}县"),
            "{page} shows the name escaped"
        );
    }
    for (path, bytes) in crate::generate::all_files(&out) {
        if path.extension().is_some_and(|e| e == "html") {
            let html = String::from_utf8(bytes).unwrap();
            let bad = html.chars().find(|c| c.is_control() && *c != '\n');
            assert_eq!(bad, None, "{} has a raw control character", path.display());
        }
    }
}

/// Province 45 of the sample with edits, ingested into `dir/wh`.
fn edited_45(dir: &Path, edit: impl FnOnce(&Path)) -> String {
    let p = dir.join("subs/45");
    copy_dir(&root().join("sample-data/submissions/45"), &p);
    edit(&p);
    let wh = dir.join("wh");
    // Exit 0 loads the edited values; exit 1 if a plausibility rule at ingest rejected them
    // (each test checks which happened).
    let o = povcensus(&[
        "ingest",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "ingest: {}",
        text(&o)
    );
    wh.display().to_string()
}

/// The first value of a one-value query.
fn scalar(wh: &str, query: &str) -> f64 {
    crate::ingest::sql(wh, query, &[], &[])
        .lines()
        .nth(1)
        .and_then(|l| l.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn set_where(
    h: &[String],
    rows: &mut [Vec<String>],
    key: &str,
    prefix: &str,
    column: &str,
    value: &str,
) {
    let k = h.iter().position(|c| c == key).unwrap();
    let c = h.iter().position(|c| c == column).unwrap();
    let r = rows
        .iter_mut()
        .find(|r| r[k].starts_with(prefix))
        .unwrap_or_else(|| panic!("no row with {key} {prefix}…"));
    r[c] = value.to_string();
}

#[test]
fn an_extreme_income_in_a_heavily_weighted_county_does_not_overflow_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // 450922 is the sampled (type 3) county of province 45.
    let wh = edited_45(dir.path(), |p| {
        edit_submission_file(p, "counties.csv", |h, mut rows| {
            set_where(
                h,
                &mut rows,
                "county_code",
                "450922",
                "sampling_weight",
                "1000000000000000",
            );
            rows
        });
        edit_submission_file(p, "households.csv", |h, mut rows| {
            set_where(
                h,
                &mut rows,
                "household_id",
                "450922",
                "income_wage",
                "10000000000000000000",
            );
            rows
        });
    });
    let loaded = scalar(&wh, "SELECT MAX(sampling_weight) FROM counties") >= 1e15
        && scalar(&wh, "SELECT MAX(income_wage) FROM households") >= 1e19;
    let out = dir.path().join("out");
    let o = report_into(&wh, &out, &root().join("pipelines"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.join("index.html").is_file());
    if !loaded {
        // A plausibility rule at ingest kept the values out: nothing left to sum.
        return;
    }
    let csv_text = std::fs::read_to_string(out.join("data/census/indicators.csv")).unwrap();
    let csv_text = csv_text.trim_start_matches('\u{feff}');
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let numerator = r
        .records()
        .map(|r| r.unwrap())
        .find(|r| {
            &r[col("scope")] == "sample"
                && &r[col("level")] == "county"
                && &r[col("area_code")] == "450922"
                && &r[col("indicator_id")] == "income_per_capita_mean"
        })
        .map(|r| r[col("numerator")].parse::<f64>().unwrap())
        .expect("the weighted income of 450922");
    assert!(numerator >= 1e34, "weight × income = {numerator:e}");
}

#[test]
fn an_overflowing_assessment_weight_is_named_by_step_table_column_and_province() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!("1{}", "0".repeat(300));
    let wh = edited_45(dir.path(), |p| {
        edit_submission_file(p, "assessment_households.csv", |h, mut rows| {
            set_where(h, &mut rows, "county_code", "45", "weight", &huge);
            rows
        });
    });
    let loaded = scalar(&wh, "SELECT MAX(weight) AS w FROM assessment_households") >= 1e300;
    let out = dir.path().join("out");
    let o = report_into(&wh, &out, &root().join("pipelines"));
    if !loaded {
        // A plausibility rule at ingest kept the value out: the report has nothing to fail on.
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("step `psu_totals`"), "names the step: {err}");
    assert!(
        err.contains("queries/assessment/psu_totals.sql"),
        "names the file: {err}"
    );
    assert!(
        err.contains("table assessment_households, column weight, province 45"),
        "names table, column and province: {err}"
    );
    assert_eq!(
        err.matches("step `psu_totals`").count(),
        1,
        "said once: {err}"
    );
    assert!(!out.exists(), "no output folder");
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn serve_fails_cleanly_when_its_port_is_taken() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("extract");
    let o = extract_into(&f.wh, &ex, &key_file(dir.path()));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let log = dir.path().join("stderr");
    let mut child = serve_command(&ex, &tokens_file(dir.path()), port)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve kept running on a taken port: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(
        !err.contains("endpoint listening"),
        "says listening only when it is: {err}"
    );
    drop(taken);
}

/// A copy of `pipelines/` and `queries/` whose `file` (below queries/) is replaced by `sql`.
fn broken_pipelines(dir: &Path, file: &str, sql: &str) -> PathBuf {
    copy_dir(&root().join("pipelines"), &dir.join("pipelines"));
    copy_dir(&root().join("queries"), &dir.join("queries"));
    std::fs::write(dir.join("queries").join(file), sql).unwrap();
    dir.join("pipelines")
}

#[test]
fn a_pipeline_failing_midway_leaves_the_previous_output_byte_identical() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_into(&root().join("pipelines/census.toml"), &f.wh, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = crate::generate::all_files(&out);
    // The last step fails after `indicators` was written.
    let pipelines = broken_pipelines(
        &dir.path().join("broken"),
        "census/village_exit.sql",
        "SELECT no_such_column FROM villages",
    );
    let o = run_into(&pipelines.join("census.toml"), &f.wh, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("step `village_exit`"));
    assert_eq!(crate::generate::all_files(&out), before, "OUT is untouched");
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn a_report_failing_midway_leaves_the_previous_reports_byte_identical() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let o = report_into(&f.wh, &out, &root().join("pipelines"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = crate::generate::all_files(&out);
    // The census pipeline succeeds, the exit assessment's last step fails.
    let pipelines = broken_pipelines(
        &dir.path().join("broken"),
        "assessment/followup.sql",
        "SELECT no_such_column FROM assessment_households",
    );
    let o = report_into(&f.wh, &out, &pipelines);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(crate::generate::all_files(&out), before, "OUT is untouched");
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn a_new_output_replaces_the_previous_one_whole() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pipeline = root().join("pipelines/census.toml");
    let o = run_into(&pipeline, &f.wh, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = crate::generate::all_files(&out);
    std::fs::write(out.join("stale.csv"), "from an older run").unwrap();
    let o = run_into(&pipeline, &f.wh, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        crate::generate::all_files(&out),
        first,
        "same bytes, nothing stale"
    );
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn a_folder_that_is_not_an_output_is_never_replaced() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("documents");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("thesis.txt"), "years of work").unwrap();
    let o = run_into(&root().join("pipelines/census.toml"), &f.wh, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an output of this command"));
    assert_eq!(
        std::fs::read_to_string(out.join("thesis.txt")).unwrap(),
        "years of work"
    );
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn an_extract_failing_leaves_the_previous_extract_byte_identical() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("extract");
    let key = key_file(dir.path());
    let o = extract_into(&f.wh, &out, &key);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = crate::generate::all_files(&out);
    // k larger than the census: refused after the snapshot was read.
    let o = povcensus(&[
        "extract",
        "--warehouse",
        &f.wh,
        "--out",
        out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--k",
        "100000000",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be made k-anonymous"));
    assert_eq!(crate::generate::all_files(&out), before, "OUT is untouched");
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn a_staging_folder_of_a_killed_run_is_removed_by_the_next_run() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // What a run killed by a signal leaves: its staging folder, named by its (dead) process.
    let abandoned = dir.path().join(".out.povcensus-4000000000-x1y2z3");
    std::fs::create_dir_all(&abandoned).unwrap();
    std::fs::write(abandoned.join("indicators.csv"), "half").unwrap();
    // A live process's folder is left alone (this test's own process).
    let live = dir
        .path()
        .join(format!(".out.povcensus-{}-a1b2c3", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    let o = run_into(&root().join("pipelines/census.toml"), &f.wh, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!abandoned.exists(), "the abandoned folder is removed");
    assert!(live.exists(), "a running process's folder is kept");
    std::fs::remove_dir_all(&live).unwrap();
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn outputs_are_owner_only_folders_and_files() {
    let f = fixture(Shape::Clean);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_into(&root().join("pipelines/census.toml"), &f.wh, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&out), 0o700, "OUT itself");
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p) & 0o077, 0, "{} is open to others", p.display());
    }
}
