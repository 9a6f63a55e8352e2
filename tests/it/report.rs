//! `povcensus report`: every document renders in headless Chromium with no console errors,
//! XLSX cells read back (openpyxl) equal the pipeline tables, the same snapshot gives the same
//! bytes, the index links every document, and no name or ID number of the submissions appears.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::generate::all_files;
use crate::ingest::{ingest_sample, sql};
use crate::support::{browser, python};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn report(wh: &str, out: &Path) -> PathBuf {
    let o = crate::matrix::report_into(wh, out, &root().join("pipelines"));
    assert!(
        o.status.success(),
        "report: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let index = PathBuf::from(String::from_utf8(o.stdout).unwrap().trim());
    assert_eq!(index, out.join("index.html"), "prints the index path");
    index
}

/// All workbooks under `dir`, read with openpyxl.
pub(crate) fn dump_xlsx(dir: &Path, files: &[PathBuf]) -> serde_json::Value {
    let o = Command::new(python())
        .arg(root().join("tests/python/xlsx_dump.py"))
        .args(files.iter().map(|f| dir.join(f)))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "xlsx_dump: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Key by path relative to dir.
    let mut out = serde_json::Map::new();
    for (k, book) in v.as_object().unwrap() {
        let rel = Path::new(k)
            .strip_prefix(dir)
            .unwrap()
            .display()
            .to_string();
        out.insert(rel, book.clone());
    }
    serde_json::Value::Object(out)
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    crate::support::csv_records(&std::fs::read_to_string(path).unwrap())
}

fn num(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
}

/// Person ID numbers and names (3 characters or more) of every submission file, rejected rows
/// included.
fn identifiers() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for base in ["sample-data/submissions", "sample-data/broken"] {
        for prov in std::fs::read_dir(root().join(base)).unwrap() {
            let prov = prov.unwrap().path();
            for f in ["persons.csv", "households.csv"] {
                let Ok(bytes) = std::fs::read(prov.join(f)) else {
                    continue;
                };
                let text = match String::from_utf8(bytes.clone()) {
                    Ok(t) => t,
                    Err(_) => encoding_rs::GB18030.decode(&bytes).0.into_owned(),
                };
                let mut r = csv::ReaderBuilder::new()
                    .flexible(true)
                    .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
                let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
                let wanted: Vec<usize> = headers
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| {
                        [
                            "person_id",
                            "公民身份号码",
                            "name",
                            "姓名",
                            "head_id_number",
                            "户主公民身份号码",
                        ]
                        .contains(&h.as_str())
                    })
                    .map(|(i, _)| i)
                    .collect();
                assert!(!wanted.is_empty(), "{}: no ID column in {headers:?}", f);
                for rec in r.records().flatten() {
                    for &i in &wanted {
                        if let Some(v) = rec.get(i)
                            && v.chars().count() >= 3
                        {
                            out.insert(v.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn reports_are_correct_deterministic_and_disclose_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("reports");
    report(&wh, &out);
    let again = dir.path().join("again");
    report(&wh, &again);
    let files = all_files(&out);
    assert_eq!(files, all_files(&again), "same snapshot, same bytes");

    // The index links every document, and every link resolves.
    let index = String::from_utf8(files[Path::new("index.html")].clone()).unwrap();
    let mut linked = BTreeSet::new();
    for part in index.split("href=\"").skip(1) {
        let href = &part[..part.find('"').unwrap()];
        assert!(
            out.join(href).is_file(),
            "index links {href}, which is missing"
        );
        linked.insert(href.to_string());
    }
    for must in [
        "bulletin.html",
        "workbook.xlsx",
        "evaluator/index.html",
        "quality/45.html",
        "quality/52.html",
        "quality/53.html",
        "quality/62.html",
    ] {
        assert!(linked.contains(must), "index does not link {must}");
    }
    let assessed = csv_rows(&out.join("data/assessment/exit_assessment.csv"));
    assert!(!assessed.is_empty());
    for a in &assessed {
        let code = &a["county_code"];
        assert!(files.contains_key(&PathBuf::from(format!("evaluator/{code}.html"))));
        assert!(files.contains_key(&PathBuf::from(format!("evaluator/{code}.xlsx"))));
    }

    // Workbooks, read back by an independent reader.
    let books: Vec<PathBuf> = files
        .keys()
        .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
        .cloned()
        .collect();
    let x = dump_xlsx(&out, &books);
    let wb = &x["workbook.xlsx"];
    let indicators = csv_rows(&out.join("data/census/indicators.csv"));
    for (level, sheet) in [
        ("national", "全国指标"),
        ("province", "分省指标"),
        ("county", "分县指标"),
    ] {
        let s = &wb[sheet];
        assert_eq!(s["freeze"], "A2", "{sheet} header row frozen");
        let rows = s["rows"].as_array().unwrap();
        assert_eq!(rows[0][0], "范围");
        let want: Vec<_> = indicators.iter().filter(|r| r["level"] == level).collect();
        assert_eq!(rows.len() - 1, want.len(), "{sheet} rows");
        assert_eq!(
            s["autofilter"],
            format!("A1:I{}", want.len() + 1),
            "{sheet} autofilter"
        );
        for (got, w) in rows[1..].iter().zip(&want) {
            assert_eq!(got[2], w["area_code"].as_str(), "{sheet}");
            assert_eq!(got[4], w["indicator_id"].as_str(), "{sheet}");
            for (i, col) in [(6, "numerator"), (7, "denominator"), (8, "value")] {
                assert_eq!(
                    num(&got[i]),
                    Some(w[col].parse::<f64>().unwrap()),
                    "{sheet} {} {} {col}",
                    w["area_code"],
                    w["indicator_id"]
                );
            }
        }
        // Shares carry the bulletin's rounding as a number format, not as rounded values.
        let formats: Vec<&str> = s["formats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(
            formats[8] == "0.00" || formats[8] == "0.0",
            "{sheet} value format {}",
            formats[8]
        );
        // Widths fit the Chinese headers.
        let widths = s["widths"].as_object().unwrap();
        assert!(
            num(&widths["F"]).unwrap() >= 10.0,
            "{sheet} widths {widths:?}"
        );
    }
    let village = csv_rows(&out.join("data/census/village_exit.csv"));
    assert_eq!(
        wb["贫困村退出"]["rows"].as_array().unwrap().len() - 1,
        village.len()
    );
    // Evaluator summary: the estimates and standard errors of exit_assessment.
    let summary = x["evaluator/summary.xlsx"]["汇总"]["rows"]
        .as_array()
        .unwrap();
    assert_eq!(summary.len() - 1, assessed.len());
    for (got, w) in summary[1..].iter().zip(&assessed) {
        assert_eq!(got[0], w["county_code"].as_str());
        for (i, col) in [
            (3, "wrong_exit_pct"),
            (4, "wrong_exit_se"),
            (9, "incidence_pct"),
        ] {
            assert_eq!(num(&got[i]), w[col].parse::<f64>().ok(), "{col}");
        }
        let rec = if w["exit_recommended"] == "true" {
            "是"
        } else {
            "否"
        };
        assert_eq!(got[11], rec);
        // Version 2: the census check, the rates' Korn–Graubard bounds after it.
        assert_eq!(got[14].as_str().unwrap_or(""), w["census_check"]);
        assert_eq!(num(&got[16]), w["wrong_exit_ci_high"].parse::<f64>().ok());
    }
    assert_eq!(summary[0][14], "普查核查");
    assert_eq!(summary[0][16], "脱贫人口错退率置信区间上限");
    // Quality: every rejected or flagged record of the broken province is listed.
    let count = sql(
        &wh,
        "SELECT COUNT(*) AS n FROM rejects WHERE province_code = '62'",
        &[],
        &[],
    );
    let n: usize = count.lines().nth(1).unwrap().parse().unwrap();
    assert!(n > 100);
    let list = x["quality/62.xlsx"]["记录清单"]["rows"].as_array().unwrap();
    assert_eq!(list.len() - 1, n);
    let by_rule = x["quality/62.xlsx"]["按规则"]["rows"].as_array().unwrap();
    let total: f64 = by_rule[1..].iter().map(|r| num(&r[3]).unwrap()).sum();
    assert_eq!(total as usize, n);

    // No name or ID number anywhere: HTML, CSV and every XLSX cell.
    let ids = identifiers();
    assert!(ids.len() > 1000, "{} identifiers", ids.len());
    let mut texts: Vec<(String, String)> = files
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "html" || e == "csv"))
        .map(|(p, b)| {
            (
                p.display().to_string(),
                String::from_utf8_lossy(b).into_owned(),
            )
        })
        .collect();
    texts.push(("xlsx cells".into(), x.to_string()));
    let finder = aho_corasick::AhoCorasick::new(&ids).unwrap();
    // The check finds what it looks for: a submission file is full of them.
    let source =
        std::fs::read_to_string(root().join("sample-data/submissions/52/persons.csv")).unwrap();
    assert!(finder.find(source.as_str()).is_some());
    for (what, text) in &texts {
        assert!(
            finder.find(text.as_str()).is_none(),
            "{what} shows a name or ID number"
        );
    }
}

/// Decode a PNG and return (width, height, share of non-white pixels, distinct colours).
fn png_stats(path: &Path) -> (u32, u32, f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut ink = 0usize;
    let mut colours = BTreeSet::new();
    for p in pixels.chunks(channels) {
        if p[..3].iter().any(|&c| c < 240) {
            ink += 1;
        }
        if colours.len() < 1000 {
            colours.insert(p[..3].to_vec());
        }
    }
    (
        info.width,
        info.height,
        ink as f64 / (pixels.len() / channels) as f64,
        colours.len(),
    )
}

/// Render a page in headless Chromium: (screenshot stats, console lines).
pub(crate) fn render(page: &Path, png: &Path) -> ((u32, u32, f64, usize), Vec<String>) {
    let o = Command::new(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot of {}: {}",
        page.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let console = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    (png_stats(png), console)
}

#[test]
fn reports_render_in_headless_chromium_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    // The check itself: a page with a console error and an exception is caught.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<html><body><p>control</p><script>console.error('povcensus-control'); missing();</script></body></html>",
    )
    .unwrap();
    let (_, console) = render(&control, &dir.path().join("control.png"));
    assert!(
        console.iter().any(|l| l.contains("povcensus-control")),
        "console capture does not work: {console:?}"
    );
    let (stats, _) = render(
        &{
            let blank = dir.path().join("blank.html");
            std::fs::write(&blank, "<html><body></body></html>").unwrap();
            blank
        },
        &dir.path().join("blank.png"),
    );
    assert!(stats.2 < 0.001, "a blank page counts as blank: {stats:?}");

    let wh = ingest_sample(dir.path());
    let out = dir.path().join("reports");
    report(&wh, &out);
    let county =
        csv_rows(&out.join("data/assessment/exit_assessment.csv"))[0]["county_code"].clone();
    for page in [
        "index.html".to_string(),
        "bulletin.html".into(),
        "evaluator/index.html".into(),
        format!("evaluator/{county}.html"),
        "quality/62.html".into(),
    ] {
        let png = dir.path().join(page.replace('/', "_") + ".png");
        let ((w, h, ink, colours), console) = render(&out.join(&page), &png);
        assert_eq!((w, h), (1200, 1600), "{page}");
        assert!(console.is_empty(), "{page}: console output {console:?}");
        assert!(
            ink > 0.005,
            "{page} looks blank: {:.4} of pixels inked",
            ink
        );
        assert!(colours > 8, "{page} has {colours} colours");
    }
}

/// The longest run of ASCII digits in a text.
fn longest_digit_run(text: &str) -> (usize, String) {
    let mut best = (0, String::new());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() > best.0 {
                best = (run.len(), run.clone());
            }
            run.clear();
        }
    }
    best
}

#[test]
fn quality_reports_locate_records_without_record_keys() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    // The ingest messages of province 62 do name codes (parents of orphans, kept duplicates).
    let messages = sql(
        &wh,
        "SELECT message FROM rejects WHERE province_code = '62'",
        &[],
        &[],
    );
    assert!(
        longest_digit_run(&messages).0 >= 12,
        "the rejects carry codes in their messages"
    );
    let out = dir.path().join("reports");
    report(&wh, &out);
    // Codes of villages and households have 12 and 16 digits, ID numbers 18; lines, counts
    // and county codes are shorter.
    let html = std::fs::read_to_string(out.join("quality/62.html")).unwrap();
    let (n, run) = longest_digit_run(&html);
    assert!(n < 9, "quality/62.html shows a code: {run}");
    let x = dump_xlsx(&out, &[PathBuf::from("quality/62.xlsx")]);
    let (n, run) = longest_digit_run(&x.to_string());
    assert!(n < 9, "quality/62.xlsx shows a code: {run}");
}
