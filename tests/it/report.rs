//! `povcensus report`: every document renders in headless Chromium with no console errors,
//! XLSX cells read back (openpyxl) equal the pipeline tables, the same snapshot gives the same
//! bytes, the index links every document, and no name or ID number of the submissions appears.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::generate::all_files;
use crate::ingest::{ingest_sample, sql};
use crate::support::{browser, copy_dir, edit_submission_file, python};

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

/// `povcensus report --warehouse WH --out OUT` with more arguments.
fn report_with(wh: &str, out: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["report", "--warehouse", wh, "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    crate::ingest::povcensus(&all)
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
    check_workbook(&x["workbook.xlsx"], &out, "2021-02-25 10:00 UTC");
    check_bulletin(&out);
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

/// Run headless Chromium on a page with these flags.
fn chromium(page: &Path, flags: &[&str]) -> std::process::Output {
    Command::new(browser())
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(flags)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Render a page in headless Chromium: (screenshot stats, console lines).
pub(crate) fn render(page: &Path, png: &Path) -> ((u32, u32, f64, usize), Vec<String>) {
    let o = chromium(
        page,
        &[
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            &format!("--screenshot={}", png.display()),
        ],
    );
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
        // The quality reports of a broken and of a clean province.
        "quality/62.html".into(),
        "quality/45.html".into(),
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

/// The quality reports speak Chinese to a province office: a clean province reads 全部通过
/// (never a request to correct), a broken one the counts that add up (whole files apart), the
/// rules with their Chinese descriptions and the first examples; the page stays short and
/// prints on A4.
#[test]
fn quality_reports_are_chinese_compact_and_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("reports");
    report(&wh, &out);
    let clean = std::fs::read_to_string(out.join("quality/45.html")).unwrap();
    assert!(clean.contains("全部通过"), "a clean province passes");
    assert!(
        !clean.contains("请更正"),
        "a clean province is not asked to correct"
    );
    let broken = std::fs::read_to_string(out.join("quality/62.html")).unwrap();
    assert!(!broken.contains("全部通过"));
    for page in [&clean, &broken] {
        assert!(page.contains("@page { size: A4"), "prints on A4");
    }
    // Counts that add up: 347 rows rejected, 87 of them the whole assessment file, and the
    // findings by kind.
    let count = |sql_text: &str| -> u64 {
        sql(&wh, sql_text, &[], &[])
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let findings = count("SELECT COUNT(*) AS n FROM rejects WHERE province_code = '62'");
    let file_level =
        count("SELECT COUNT(*) AS n FROM rejects WHERE province_code = '62' AND line IS NULL");
    assert!(file_level >= 1);
    assert!(broken.contains(&format!("<td class=\"n\">{findings}</td>")));
    assert!(
        broken.contains("整文件拒收 87 行（1 个文件）＋ 逐行拒收 260 行"),
        "{broken}"
    );
    assert!(broken.contains(&format!("文件级问题 {file_level} 条")));
    // Every rule of the province with its Chinese description; no English rule text.
    for rule in povcensus::contract::rules::Rule::ALL {
        if broken.contains(&format!("id=\"rule-{}\"", rule.id())) {
            assert!(broken.contains(rule.description_zh()), "{}", rule.id());
        }
        assert!(
            !broken.contains(rule.description()),
            "{} in English",
            rule.id()
        );
    }
    assert!(broken.contains("<details"), "rules collapse");
    // Compact: the examples, not the full list (the workbook has it).
    let rows = broken.matches("<tr").count();
    assert!(rows < 300, "{rows} table rows");
    assert!(broken.len() < 120_000, "{} bytes", broken.len());
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

/// (scope, level, area, indicator) of the indicators table.
type Key = (String, String, String, String);

/// The indicators table of a report: (numerator, denominator, value) by key, in its order.
fn indicator_table(out: &Path) -> Vec<(Key, (f64, f64, f64))> {
    csv_rows(&out.join("data/census/indicators.csv"))
        .into_iter()
        .map(|r| {
            let f = |c: &str| r[c].parse::<f64>().unwrap();
            (
                (
                    r["scope"].clone(),
                    r["level"].clone(),
                    r["area_code"].clone(),
                    r["indicator_id"].clone(),
                ),
                (f("numerator"), f("denominator"), f("value")),
            )
        })
        .collect()
}

fn rows_of<'a>(wb: &'a serde_json::Value, sheet: &str) -> &'a [serde_json::Value] {
    wb[sheet]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no sheet {sheet}"))
}

/// A scope as the workbook's headers name it.
fn scope_of(label: &str) -> &'static str {
    match label.trim_end_matches("·基数") {
        "国家贫困县" => "npc",
        "非国家贫困县" | "非国家贫困县（抽样推算）" => "sample",
        "合计" => "all",
        other => panic!("unknown scope {other}"),
    }
}

/// Check one cell of a wide sheet against the table: the value when the table has the key,
/// "—" when it has none (a zero base), never 0. Returns whether the table had it.
fn check_cell(
    table: &BTreeMap<Key, (f64, f64, f64)>,
    key: Key,
    got: &serde_json::Value,
    pick: fn((f64, f64, f64)) -> f64,
) -> bool {
    match table.get(&key) {
        Some(v) => {
            assert_eq!(num(got), Some(pick(*v)), "{key:?}");
            true
        }
        None => {
            assert_eq!(got, "—", "{key:?} has no row in the table");
            false
        }
    }
}

/// The workbook: 说明 first, the wide sheets equal to the indicators table cell by cell, the
/// long sheet equal to it row by row, whole-number counts, A4 print setup and frozen panes.
fn check_workbook(wb: &serde_json::Value, out: &Path, generated_at: &str) {
    let ordered = indicator_table(out);
    let table: BTreeMap<Key, (f64, f64, f64)> = ordered.iter().cloned().collect();
    let order: Vec<&str> = wb["_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(order[0], "说明", "{order:?}");
    for sheet in &order {
        let s = &wb[*sheet];
        assert_eq!(s["print"]["paper"], 9, "{sheet} prints on A4");
        assert_eq!(s["print"]["titles"], "$1:$1", "{sheet} repeats its header");
        assert!(s["freeze"].is_string(), "{sheet} has frozen panes");
    }
    assert_eq!(wb["全国"]["print"]["orientation"], "landscape");
    assert_eq!(wb["全国"]["print"]["fit_width"], 1);
    // 全国: indicators × scopes, each value beside its base.
    let national = rows_of(wb, "全国");
    let head = national[0].as_array().unwrap();
    let ids: Vec<String> = national[1..]
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // The bulletin's rounding: two decimals up to the assistance section, one from there on.
    let one_decimal = ids.iter().position(|i| i == "assist_industry_any").unwrap();
    let mut found = 0;
    for (r, row) in national[1..].iter().enumerate() {
        let fmts = wb["全国"]["numfmts"][r + 1].as_array().unwrap();
        for c in (3..head.len() - 1).step_by(2) {
            let scope = scope_of(head[c].as_str().unwrap());
            let key = |id: &str| (scope.into(), "national".into(), "00".into(), id.to_string());
            if check_cell(&table, key(&ids[r]), &row[c], |v| v.2) {
                found += 1;
                check_cell(&table, key(&ids[r]), &row[c + 1], |v| v.1);
                assert_eq!(fmts[c + 1], "#,##0", "base of {}", ids[r]);
                let share = if ids[r] == "income_per_capita_mean" {
                    "#,##0"
                } else if r < one_decimal {
                    "0.00"
                } else {
                    "0.0"
                };
                assert_eq!(fmts[c], share, "value of {}", ids[r]);
            }
        }
    }
    let level_rows = |l: &str| table.keys().filter(|k| k.1 == l).count();
    assert_eq!(
        found,
        level_rows("national"),
        "every national value is shown"
    );
    // 分省（scope）: indicators × provinces.
    let mut found = 0;
    for sheet in order.iter().filter(|s| s.starts_with("分省")) {
        let scope = scope_of(sheet.trim_start_matches("分省（").trim_end_matches('）'));
        let rows = rows_of(wb, sheet);
        let head = rows[0].as_array().unwrap();
        for (r, row) in rows[1..].iter().enumerate() {
            assert_eq!(row.as_array().unwrap().last().unwrap(), ids[r].as_str());
            for c in 3..head.len() - 1 {
                let h = head[c].as_str().unwrap();
                let code = &h[h.find('（').unwrap() + '（'.len_utf8()..h.len() - '）'.len_utf8()];
                let key = (scope.into(), "province".into(), code.into(), ids[r].clone());
                found += usize::from(check_cell(&table, key, &row[c], |v| v.2));
            }
        }
    }
    assert_eq!(
        found,
        level_rows("province"),
        "every province value is shown"
    );
    // 分县: counties × indicators, each county in its own scope.
    let county = rows_of(wb, "分县");
    let mut found = 0;
    for row in &county[1..] {
        let code = row[1].as_str().unwrap();
        assert!(!row[2].as_str().unwrap().is_empty(), "{code} has a name");
        let scope = scope_of(row[3].as_str().unwrap());
        for (i, id) in ids.iter().enumerate() {
            let key = (scope.into(), "county".into(), code.into(), id.clone());
            found += usize::from(check_cell(&table, key, &row[4 + i], |v| v.2));
        }
    }
    let own = table
        .keys()
        .filter(|k| k.1 == "county" && k.0 != "all")
        .count();
    assert_eq!(found, own, "every county value is shown");
    // 指标数据: the long table as it is, counts as whole numbers.
    let long = rows_of(wb, "指标数据");
    assert_eq!(long.len() - 1, ordered.len());
    for (i, (row, (key, v))) in long[1..].iter().zip(&ordered).enumerate() {
        assert_eq!(row[2], key.2.as_str());
        assert_eq!(row[4], key.3.as_str());
        assert_eq!(
            (num(&row[6]), num(&row[7]), num(&row[8])),
            (Some(v.0), Some(v.1), Some(v.2))
        );
        let fmts = &wb["指标数据"]["numfmts"][i + 1];
        assert_eq!((&fmts[6], &fmts[7]), (&"#,##0".into(), &"#,##0".into()));
    }
    let village = csv_rows(&out.join("data/census/village_exit.csv"));
    assert_eq!(rows_of(wb, "贫困村退出").len() - 1, village.len());
    check_explanation(wb, out, generated_at);
}

/// 说明: snapshot, every province with its version and submission, each pipeline's
/// parameters, the generation time, every sheet described.
fn check_explanation(wb: &serde_json::Value, out: &Path, generated_at: &str) {
    let rows: BTreeMap<String, String> = rows_of(wb, "说明")[1..]
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().map_or_else(|| r[1].to_string(), String::from),
            )
        })
        .collect();
    assert_eq!(rows["生成时间"], generated_at);
    for (dir, file) in [
        ("census", "census.toml"),
        ("assessment", "exit_assessment.toml"),
    ] {
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join("data").join(dir).join("run_manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(rows["数据仓库快照"], m["snapshot"].to_string());
        let p = &rows[&format!("流水线 {file}")];
        assert!(p.contains(m["pipeline_sha256"].as_str().unwrap()), "{p}");
        for (k, v) in m["parameters"].as_object().unwrap() {
            assert_eq!(&rows[&format!("　参数 {k}")], v.as_str().unwrap());
        }
        for (code, p) in m["provinces"].as_object().unwrap() {
            let (k, v) = rows
                .iter()
                .find(|(k, _)| k.starts_with(&format!("省份 {code} ")))
                .unwrap_or_else(|| panic!("说明 lists province {code}"));
            assert!(k.len() > format!("省份 {code} ").len(), "{k} has a name");
            assert_eq!(
                v,
                &format!("第 {} 版，报送批次 {}", p[0], p[1].as_str().unwrap())
            );
        }
    }
    for sheet in wb["_order"].as_array().unwrap().iter().skip(1) {
        assert!(
            rows.contains_key(&format!("工作表 {}", sheet.as_str().unwrap())),
            "说明 describes {sheet}"
        );
    }
}

/// A count as the bulletin writes it: whole, with thousands separators.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The bulletin of the sample: issuing body and date (the generation date by default), the
/// four provinces named, and prose whose figures are the table's, each with its base.
fn check_bulletin(out: &Path) {
    let html = std::fs::read_to_string(out.join("bulletin.html")).unwrap();
    assert!(
        html.contains("<p class=\"issuer\">国家脱贫攻坚普查领导小组办公室<br>2021年2月25日</p>")
    );
    assert!(html.contains("现将广西壮族自治区、贵州省、云南省和甘肃省4个省（区、市）建档立卡户"));
    assert!(!html.contains("22个省"), "four provinces are loaded");
    assert!(html.contains("<h2>一、普查范围</h2>") && html.contains("<h2>十一、贫困村退出</h2>"));
    let table: BTreeMap<Key, (f64, f64, f64)> = indicator_table(out).into_iter().collect();
    let national =
        |scope: &str, id: &str| table[&(scope.into(), "national".into(), "00".into(), id.into())];
    for (scope, name) in [
        ("npc", "国家贫困县"),
        ("sample", "非国家贫困县（抽样推算）"),
    ] {
        let (_, base, food) = national(scope, "food_enough");
        let (_, _, clothing) = national(scope, "clothing_ok");
        let sentence = format!(
            "{name}的{}户建档立卡户中，不愁吃的占{food:.2}%，不愁穿的占{clothing:.2}%",
            thousands(base)
        );
        assert!(html.contains(&sentence), "bulletin says: {sentence}");
        let (_, base, wrong) = national(scope, "wrongly_exited");
        let clause = format!(
            "{}户已脱贫建档立卡户中，未达到贫困户退出标准的占{wrong:.2}%",
            thousands(base)
        );
        assert!(html.contains(&clause), "bulletin says: {clause}");
        let (_, villages, road) = national(scope, "vil_road");
        let clause = format!("{}个行政村中，通硬化路的占{road:.1}%", thousands(villages));
        assert!(html.contains(&clause), "bulletin says: {clause}");
    }
}

/// Print the bulletin to PDF in headless Chromium; the size of its first page in points.
fn pdf_page_size(page: &Path, pdf: &Path) -> (f64, f64) {
    let print = format!("--print-to-pdf={}", pdf.display());
    let o = chromium(page, &["--no-pdf-header-footer", &print]);
    let bytes = std::fs::read(pdf)
        .unwrap_or_else(|_| panic!("no PDF: {}", String::from_utf8_lossy(&o.stderr)));
    let text = String::from_utf8_lossy(&bytes);
    let at = text.find("/MediaBox").expect("a page with a MediaBox");
    let nums: Vec<f64> = text[at + 9..]
        .trim_start_matches([' ', '['])
        .split(']')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (nums[2] - nums[0], nums[3] - nums[1])
}

/// Page sizes in points: A4 (210 × 297 mm) and US Letter.
const A4: (f64, f64) = (595.3, 841.9);
const LETTER: (f64, f64) = (612.0, 792.0);

#[test]
fn the_bulletin_prints_on_a4() {
    let dir = tempfile::tempdir().unwrap();
    let near = |(w, h): (f64, f64), (a, b): (f64, f64)| (w - a).abs() < 2.0 && (h - b).abs() < 2.0;
    // The check tells paper sizes apart: a page asking for Letter prints on Letter.
    let letter_page = dir.path().join("letter.html");
    let css = "<style>@page { size: letter; }</style>";
    std::fs::write(
        &letter_page,
        format!("<html><head>{css}</head><p>x</p></html>"),
    )
    .unwrap();
    let letter = pdf_page_size(&letter_page, &dir.path().join("letter.pdf"));
    assert!(near(letter, LETTER), "Letter is {letter:?}");
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("reports");
    report(&wh, &out);
    let a4 = pdf_page_size(&out.join("bulletin.html"), &dir.path().join("bulletin.pdf"));
    assert!(near(a4, A4), "the bulletin prints on {a4:?}, not A4");
}

#[test]
fn a_one_province_report_names_it_and_never_shows_a_share_without_a_base() {
    let dir = tempfile::tempdir().unwrap();
    // Province 45 alone, none of its households exited: the wrong-exit share has no base.
    let p = dir.path().join("subs/45");
    copy_dir(&root().join("sample-data/submissions/45"), &p);
    edit_submission_file(&p, "households.csv", |h, mut rows| {
        let c = h.iter().position(|c| c == "exit_year").unwrap();
        for r in &mut rows {
            r[c].clear();
        }
        rows
    });
    let wh = dir.path().join("wh").display().to_string();
    let o = crate::ingest::povcensus(&["ingest", p.to_str().unwrap(), "--warehouse", &wh]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = dir.path().join("reports");
    let o = report_with(
        &wh,
        &out,
        &[
            "--generated-at",
            "2021-03-01 08:00",
            "--issuer",
            "广西壮族自治区脱贫攻坚普查领导小组办公室",
            "--issued-on",
            "2021-02-25",
            "--bulletin-number",
            "12",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = indicator_table(&out);
    assert!(
        table.iter().all(|(k, _)| k.3 != "wrongly_exited"),
        "no base, no row"
    );
    assert!(table.iter().any(|(k, _)| k.3 == "food_enough"));
    let html = std::fs::read_to_string(out.join("bulletin.html")).unwrap();
    assert!(html.contains("（第十二号）"));
    assert!(html.contains(
        "<p class=\"issuer\">广西壮族自治区脱贫攻坚普查领导小组办公室<br>2021年2月25日</p>"
    ));
    assert!(
        html.contains("现将广西壮族自治区建档立卡户"),
        "the scope names the province"
    );
    assert!(
        !html.contains("个省（区、市）"),
        "one province is not counted as provinces"
    );
    // The share without a base: no clause in the prose, "—" in the table, never 0 %.
    assert!(!html.contains("未达到贫困户退出标准的占"));
    let row = html
        .split("<tr>")
        .find(|r| r.contains("已脱贫户中未达退出标准（户）"))
        .unwrap();
    assert_eq!(row.matches("<td class=\"n\">—</td>").count(), 2, "{row}");
    let x = dump_xlsx(&out, &[PathBuf::from("workbook.xlsx")]);
    let wb = &x["workbook.xlsx"];
    check_workbook(wb, &out, "2021-03-01 08:00 UTC");
    let national = rows_of(wb, "全国");
    let wrong = national
        .iter()
        .map(|r| r.as_array().unwrap())
        .find(|r| r.last().unwrap() == "wrongly_exited")
        .unwrap();
    assert!(
        wrong[3..wrong.len() - 1].iter().all(|c| c == "—"),
        "{wrong:?}"
    );
    let about = rows_of(wb, "说明");
    assert!(
        about.iter().any(|r| r[1] == "广西壮族自治区"),
        "说明 gives the scope"
    );
    assert!(
        about
            .iter()
            .any(|r| r[0].as_str().is_some_and(|k| k == "省份 45 广西壮族自治区"))
    );
}

#[test]
fn a_bad_issue_date_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let wh = dir.path().join("wh").display().to_string();
    let o = report_with(&wh, &out, &["--issued-on", "2021-13-01"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: --issued-on `2021-13-01` is not a date YYYY-MM-DD"),
        "{stderr}"
    );
    assert!(!out.exists());
}
