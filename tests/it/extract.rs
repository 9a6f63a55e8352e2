//! `povcensus extract` and `povcensus sql --extract`: k-anonymity proved by an independent
//! check (DuckDB), no name, ID number or key in any output, pseudonyms that are the keyed
//! HMAC-SHA-256 of the IDs (recomputed in Python), stable under one key and unlinkable across
//! keys, generalization rules, no record dropped, and the SQL restricted to the extract.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::ingest::{ingest_sample, povcensus, povcensus_env, sql};
use crate::support::python;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn extract(wh: &str, out: &Path, key: &Path) -> Output {
    povcensus(&[
        "extract",
        "--warehouse",
        wh,
        "--out",
        out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--min-ethnicity-persons",
        "200",
        "--generated-at",
        "2021-02-25 10:00",
    ])
}

fn py(code: &str, args: &[&str]) -> String {
    let o = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "python: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The smallest number of compatible records (NULL matches anything) over the named
/// quasi-identifiers, computed by DuckDB over distinct tuples.
fn min_compatible(parquet: &Path, cols: &[&str]) -> i64 {
    let conds: Vec<String> = cols
        .iter()
        .map(|c| format!("(x.{c} IS NULL OR y.{c} IS NULL OR x.{c} = y.{c})"))
        .collect();
    let xs: Vec<String> = cols.iter().map(|c| format!("x.{c}")).collect();
    let q = format!(
        "WITH t AS (SELECT {cols}, COUNT(*) AS n FROM read_parquet('{path}') GROUP BY ALL) \
         SELECT MIN(c) FROM (SELECT {xs}, SUM(y.n) AS c FROM t x, t y WHERE {conds} GROUP BY {xs})",
        cols = cols.join(", "),
        path = parquet.display(),
        xs = xs.join(", "),
        conds = conds.join(" AND "),
    );
    // No progress bar: on a loaded machine the query passes DuckDB's 2 s mark and the bar
    // would be printed into the number.
    let printed = py(
        "import duckdb, sys; c = duckdb.connect(); \
         c.execute('SET enable_progress_bar = false'); print(c.sql(sys.argv[1]).fetchall()[0][0])",
        &[&q],
    );
    printed
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("DuckDB printed {printed:?}: {e}"))
}

#[test]
fn extract_is_k_anonymous_pseudonymized_and_discloses_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let key = dir.path().join("key");
    let secret = "correct horse battery staple 2021";
    std::fs::write(&key, format!("{secret}\n")).unwrap();
    let out = dir.path().join("extract");
    let o = extract(&wh, &out, &key);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!logs.contains(secret), "the key is in the logs");

    // No record dropped.
    let n = |wh: &str, q: &str| -> usize {
        sql(wh, q, &[], &[])
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let persons = n(
        &wh,
        "SELECT COUNT(*) FROM persons p JOIN households h ON h.household_id = p.household_id \
         WHERE h.enumeration_status = 1",
    );
    let households = n(
        &wh,
        "SELECT COUNT(*) FROM households WHERE enumeration_status = 1",
    );
    let pq = out.join("research_persons.parquet");
    let hq = out.join("research_households.parquet");
    let count = |p: &Path| -> usize {
        py(
            "import duckdb, sys; print(duckdb.sql(f\"SELECT COUNT(*) FROM read_parquet('{sys.argv[1]}')\").fetchall()[0][0])",
            &[p.to_str().unwrap()],
        )
        .trim()
        .parse()
        .unwrap()
    };
    assert_eq!(count(&pq), persons);
    assert_eq!(count(&hq), households);

    // k-anonymity, checked independently; the report agrees.
    let k = min_compatible(
        &pq,
        &[
            "area_code",
            "sex",
            "age_band",
            "ethnicity_group",
            "household_size",
            "disabled",
        ],
    );
    assert!(k >= 5, "persons: min compatible {k}");
    let kh = min_compatible(&hq, &["area_code", "household_size"]);
    assert!(kh >= 5, "households: min compatible {kh}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("risk_report.json")).unwrap())
            .unwrap();
    assert_eq!(report["sample_uniques_after"], 0);
    reidentification_fails(&pq, &hq, &report);
    assert!(report["sample_uniques_before"].as_u64().unwrap() > 0);

    // Generalization rules.
    let values = py(
        "import duckdb, sys, json
t = f\"read_parquet('{sys.argv[1]}')\"
q = lambda c: sorted({r[0] for r in duckdb.sql(f'SELECT DISTINCT {c} FROM {t}').fetchall() if r[0] is not None})
h = f\"read_parquet('{sys.argv[2]}')\"
inc = duckdb.sql(f'SELECT COUNT(*) FILTER (WHERE income_per_capita % 100 <> 0), MAX(income_per_capita) FROM {h}').fetchall()[0]
print(json.dumps({'age': q('age_band'), 'size': q('household_size'), 'area': q('area_code'),
                  'eth': q('ethnicity_group'), 'dis': q('disabled'), 'inc': inc}))",
        &[pq.to_str().unwrap(), hq.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&values).unwrap();
    let allowed_age: BTreeSet<String> = (0..16)
        .map(|b| format!("{}-{}", b * 5, b * 5 + 4))
        .chain(["80+".to_string()])
        .collect();
    for a in v["age"].as_array().unwrap() {
        assert!(allowed_age.contains(a.as_str().unwrap()), "age band {a}");
    }
    for s in v["size"].as_array().unwrap() {
        assert!(
            ["0", "1", "2", "3", "4", "5", "6", "7", "8+"].contains(&s.as_str().unwrap()),
            "household size {s}"
        );
    }
    for a in v["area"].as_array().unwrap() {
        let a = a.as_str().unwrap();
        assert!(
            (a.len() == 6 || a.len() == 4) && a.chars().all(|c| c.is_ascii_digit()),
            "area {a}"
        );
    }
    assert!(
        v["eth"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "其他少数民族" || e == "汉族")
    );
    assert_eq!(v["dis"], serde_json::json!([1, 2]));
    assert_eq!(v["inc"][0], 0, "income rounded to 100 yuan");
    assert_eq!(v["inc"][1], report["income_top_code"], "income top-coded");

    // Pseudonyms are HMAC-SHA-256 under the key, recomputed independently.
    let ids = sql(
        &wh,
        "SELECT p.person_id FROM persons p JOIN households h ON h.household_id = p.household_id \
         WHERE h.enumeration_status = 1",
        &[],
        &[],
    );
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(
        &ids_file,
        ids.lines().skip(1).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let same = py(
        "import duckdb, hmac, hashlib, sys
key = open(sys.argv[1], 'rb').read().rstrip(b'\\r\\n')
want = {hmac.new(key, b'person\\x1f' + l.strip().encode(), hashlib.sha256).hexdigest()
        for l in open(sys.argv[2]) if l.strip()}
got = {r[0] for r in duckdb.sql(f\"SELECT person_key FROM read_parquet('{sys.argv[3]}')\").fetchall()}
print(want == got, len(got))",
        &[
            key.to_str().unwrap(),
            ids_file.to_str().unwrap(),
            pq.to_str().unwrap(),
        ],
    );
    assert_eq!(same.split_whitespace().next(), Some("True"), "{same}");

    // Same key, same bytes, also on one thread with a 16 MiB memory pool (the sorts spill);
    // another key, no pseudonym in common.
    let again = dir.path().join("again");
    let o = povcensus(&[
        "extract",
        "--warehouse",
        &wh,
        "--out",
        again.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--min-ethnicity-persons",
        "200",
        "--threads",
        "1",
        "--memory-limit",
        "16MiB",
        "--generated-at",
        "2021-02-25 10:00",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "research_persons.parquet",
        "research_persons.csv",
        "research_households.parquet",
        "research_households.csv",
        "risk_report.json",
        "risk_report.html",
        "codebook.json",
        "codebook.csv",
        "codebook.html",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
    let key2 = dir.path().join("key2");
    std::fs::write(&key2, "another key, for another researcher").unwrap();
    let other = dir.path().join("other");
    assert!(extract(&wh, &other, &key2).status.success());
    let common = py(
        "import duckdb, sys
a = {r[0] for r in duckdb.sql(f\"SELECT person_key FROM read_parquet('{sys.argv[1]}') UNION ALL SELECT household_key FROM read_parquet('{sys.argv[1]}')\").fetchall()}
b = {r[0] for r in duckdb.sql(f\"SELECT person_key FROM read_parquet('{sys.argv[2]}') UNION ALL SELECT household_key FROM read_parquet('{sys.argv[2]}')\").fetchall()}
print(len(a & b))",
        &[
            pq.to_str().unwrap(),
            other.join("research_persons.parquet").to_str().unwrap(),
        ],
    );
    assert_eq!(common.trim(), "0");

    // No ID number, household code, name or key in any output file.
    let mut needles: BTreeSet<String> = BTreeSet::new();
    needles.insert(secret.to_string());
    for q in [
        "SELECT person_id AS v FROM persons",
        "SELECT name AS v FROM persons WHERE length(name) >= 3",
        "SELECT household_id AS v FROM households",
        "SELECT head_id_number AS v FROM households",
    ] {
        needles.extend(sql(&wh, q, &[], &[]).lines().skip(1).map(String::from));
    }
    assert!(needles.len() > 1000);
    let finder = aho_corasick::AhoCorasick::new(&needles).unwrap();
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            finder.find(&bytes).is_none(),
            "{} holds an identifier or the key",
            p.display()
        );
    }
}

/// The re-identification attack, independent of the extract code (DuckDB over the published
/// Parquet, tests/python/reidentification_audit.py): every suppressed or generalized value that
/// another column determines is recomputed (disabled from health_status and schooling_status,
/// household size from the persons per household key, the county from the county-level columns
/// within the prefecture, the age band refined by the presence of schooling_status), and no
/// record is left in a class smaller than k. The risk report's attribute-inference check and
/// smallest class agree.
fn reidentification_fails(pq: &Path, hq: &Path, report: &serde_json::Value) {
    let o = Command::new(python())
        .arg(root().join("tests/python/reidentification_audit.py"))
        .args([pq.to_str().unwrap(), hq.to_str().unwrap(), "5"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let audit: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (qi, n) in audit["recoverable"].as_object().unwrap() {
        assert_eq!(n, 0, "{qi} recoverable from other columns: {audit}");
    }
    // The county attributes are found as such, and never published where the area is not a
    // county.
    assert_eq!(
        audit["county_columns"],
        serde_json::json!(["county_type", "weight"]),
        "{audit}"
    );
    for (c, n) in audit["county_values_where_generalized"]
        .as_object()
        .unwrap()
    {
        assert_eq!(n, 0, "{c} published where the area is generalized: {audit}");
    }
    assert_eq!(audit["persons_below_k"], 0, "{audit}");
    assert_eq!(audit["households_below_k"], 0, "{audit}");
    assert!(audit["min_compatible_persons"].as_u64().unwrap() >= 5);
    assert_eq!(
        audit["min_compatible_persons"], report["min_class_size_persons"],
        "{audit}"
    );
    assert_eq!(
        audit["min_compatible_households"], report["min_class_size_households"],
        "{audit}"
    );
    let lines = report["attribute_inference"].as_array().unwrap();
    assert_eq!(lines.len(), 6);
    for l in lines {
        assert_eq!(l["records_recoverable"], 0, "{l}");
    }
}

#[test]
fn extract_refuses_without_a_key_and_sql_sees_only_the_extract() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("extract");
    // No key: refused, nothing written.
    let o = povcensus_env(
        &[
            "extract",
            "--warehouse",
            &wh,
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--key-file"));
    assert!(!out.exists());
    // A key from the environment works; a short one is refused.
    let o = povcensus_env(
        &[
            "extract",
            "--warehouse",
            &wh,
            "--out",
            out.to_str().unwrap(),
        ],
        &[("POVCENSUS_EXTRACT_KEY".into(), "short".into())],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = povcensus_env(
        &[
            "extract",
            "--warehouse",
            &wh,
            "--out",
            out.to_str().unwrap(),
        ],
        &[(
            "POVCENSUS_EXTRACT_KEY".into(),
            "a key long enough to be accepted".into(),
        )],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let ex = out.to_str().unwrap();
    let q = |query: &str| povcensus(&["sql", "--extract", ex, "-c", query, "--format", "csv"]);
    let o = q("SELECT COUNT(*) AS n FROM research_persons");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(String::from_utf8_lossy(&o.stdout).lines().nth(1), Some("0"));
    for refused in [
        "SELECT * FROM persons",
        "SELECT * FROM rejects",
        "CREATE EXTERNAL TABLE p STORED AS PARQUET LOCATION '/etc'",
        "COPY research_persons TO '/tmp/x.csv'",
        "INSERT INTO research_persons SELECT * FROM research_persons",
        "DROP TABLE research_persons",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let o = q(refused);
        assert!(!o.status.success(), "`{refused}` was accepted");
    }
}

/// Published county tables: no published cell is small, suppressed cells are marked (not 0),
/// the pattern is deterministic, and a linear-programming audit (scipy) can recompute none of
/// them from the published cells and the row, column and hierarchy totals.
#[test]
fn published_tables_leave_no_suppressed_cell_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "a research extract key of some length").unwrap();
    let run = |out: &Path| {
        let o = povcensus(&[
            "extract",
            "--warehouse",
            &wh,
            "--out",
            out.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
            // The sample's counties are large: a high threshold makes small cells to protect.
            "--min-cell",
            "150",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out.join("published_county_counts.csv")).unwrap()
    };
    let csv = run(&dir.path().join("a"));
    assert_eq!(csv, run(&dir.path().join("b")), "same pattern every time");
    let text = String::from_utf8(csv).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next(),
        Some("area_code,level,table,category,count,status")
    );
    let (mut primary, mut secondary) = (0, 0);
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        match f[5] {
            "ok" => {
                let n: u64 = f[4].parse().unwrap();
                assert!(n == 0 || n >= 150, "small cell published: {l}");
            }
            "primary" | "secondary" => {
                assert_eq!(f[4], "", "a suppressed count is empty: {l}");
                if f[5] == "primary" {
                    primary += 1;
                } else {
                    secondary += 1;
                }
            }
            s => panic!("status {s}"),
        }
    }
    assert!(
        primary > 0 && secondary > 0,
        "{primary} primary, {secondary} secondary"
    );
    let o = Command::new(python())
        .arg(root().join("tests/python/suppression_audit.py"))
        .arg(dir.path().join("a/published_county_counts.csv"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let audit: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(audit["suppressed"], primary + secondary);
    assert_eq!(audit["recoverable"], serde_json::json!([]), "{audit}");
    assert!(dir.path().join("a/published_tables.xlsx").is_file());
}

/// The sample ingested into `dir/wh` and its extract in `dir/extract` (fixed key and time).
fn sample_extract(dir: &Path) -> (String, PathBuf) {
    let wh = ingest_sample(dir);
    let key = dir.join("key");
    std::fs::write(&key, "a key for the codebook and risk report tests").unwrap();
    let out = dir.join("extract");
    let o = extract(&wh, &out, &key);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (wh, out)
}

/// The single number a `SELECT COUNT(*)` over the warehouse gives.
fn count_of(wh: &str, query: &str) -> u64 {
    let csv = sql(wh, query, &[], &[]);
    let line = csv.lines().nth(1).unwrap_or_default();
    line.parse()
        .unwrap_or_else(|e| panic!("{query}: {line:?} {e}"))
}

/// The codebook names every column of both tables, with the type written, and every value
/// the tables hold is one of its categories (read back by DuckDB): the codebook and the
/// anonymizer cannot diverge unnoticed.
#[test]
fn codebook_lists_every_column_and_every_published_value() {
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = sample_extract(dir.path());
    let book: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("codebook.json")).unwrap()).unwrap();
    let checked = py(
        "import duckdb, sys, json
book = json.load(open(sys.argv[1]))
problems = []
for table in ['research_persons', 'research_households']:
    rel = duckdb.sql(f\"SELECT * FROM read_parquet('{sys.argv[2]}/{table}.parquet')\")
    names = [v['name'] for v in book if v['table'] == table]
    if names != rel.columns:
        problems.append(f'{table}: codebook {names} != columns {rel.columns}')
    for v in book:
        if v['table'] != table or not v['categories']:
            continue
        allowed = {c['value'] for c in v['categories']}
        seen = {str(r[0]) for r in duckdb.sql(f\"SELECT DISTINCT {v['name']} FROM read_parquet('{sys.argv[2]}/{table}.parquet') WHERE {v['name']} IS NOT NULL\").fetchall()}
        if not seen <= allowed:
            problems.append(f\"{table}.{v['name']}: {sorted(seen - allowed)} not in the codebook\")
print(json.dumps(problems))",
        &[
            out.join("codebook.json").to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    let problems: Vec<String> = serde_json::from_str(checked.trim()).unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    let var = |t: &str, n: &str| {
        book.iter()
            .find(|v| v["table"] == t && v["name"] == n)
            .unwrap_or_else(|| panic!("{t}.{n} missing"))
            .clone()
    };
    let sex = var("research_persons", "sex");
    assert_eq!(sex["categories"][1]["label"], "女");
    assert_eq!(sex["label_zh"], "性别");
    let age = var("research_persons", "age_band");
    assert_eq!(age["categories"].as_array().unwrap().len(), 17);
    assert!(
        age["treatment"]
            .as_str()
            .unwrap()
            .contains("80岁及以上合并")
    );
    let health = var("research_persons", "health_status");
    assert!(health["treatment"].as_str().unwrap().contains("disabled"));
    assert_eq!(health["categories"][3]["label"], "残疾");
    let income = var("research_households", "income_per_capita");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("risk_report.json")).unwrap())
            .unwrap();
    assert!(
        income["treatment"].as_str().unwrap().contains(&format!(
            "{} 元",
            report["income_top_code"].as_f64().unwrap()
        )),
        "{income}"
    );
    let csv = std::fs::read(out.join("codebook.csv")).unwrap();
    assert!(csv.starts_with("\u{feff}table,variable,".as_bytes()));
    let html = std::fs::read_to_string(out.join("codebook.html")).unwrap();
    assert!(html.contains("生成时间 2021-02-25 10:00 UTC"));
}

/// The risk report counts, per category, the persons whose value was suppressed (checked
/// against the warehouse and the extract), states the l of each sensitive attribute with a
/// verdict against the required l, and shows its generation time.
#[test]
fn risk_report_counts_suppression_per_category_and_judges_l_diversity() {
    let dir = tempfile::tempdir().unwrap();
    let (wh, out) = sample_extract(dir.path());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("risk_report.json")).unwrap())
            .unwrap();
    assert_eq!(report["generated_at"], "2021-02-25 10:00 UTC");
    let cats = report["suppressed_by_category"].as_array().unwrap();
    let eighty = cats
        .iter()
        .find(|c| c["variable"] == "age_band" && c["category"] == "80+")
        .expect("an 80+ category");
    // Independently: persons aged 80+ in the census, and those still 80+ in the extract.
    let census = count_of(
        &wh,
        "SELECT COUNT(*) FROM persons p JOIN households h ON h.household_id = p.household_id \
         WHERE h.enumeration_status = 1 AND age_on(p.birth_date, DATE '2020-12-31') >= 80",
    );
    let kept: u64 = py(
        "import duckdb, sys; print(duckdb.sql(f\"SELECT COUNT(*) FROM read_parquet('{sys.argv[1]}') WHERE age_band = '80+'\").fetchall()[0][0])",
        &[out.join("research_persons.parquet").to_str().unwrap()],
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(eighty["persons"], census);
    assert_eq!(eighty["suppressed"], census - kept);
    // Every category's suppressed count adds up to the variable's.
    for v in ["sex", "age_band", "ethnicity_group", "disabled"] {
        let sum: u64 = cats
            .iter()
            .filter(|c| c["variable"] == v)
            .map(|c| c["suppressed"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, report["suppressed_persons"][v][0], "{v}");
    }
    let l = report["l_diversity"].as_array().unwrap();
    assert_eq!(l.len(), 3);
    assert_eq!(l[0]["attribute"], "health_status");
    assert_eq!(l[0]["l_achieved"], report["l_diversity_min"]);
    for d in l {
        assert_eq!(d["l_required"], 2);
        assert_eq!(
            d["meets"],
            d["classes_below"] == 0,
            "the verdict follows the count: {d}"
        );
        assert_eq!(d["meets"], d["l_achieved"].as_u64().unwrap() >= 2);
    }
    let html = std::fs::read_to_string(out.join("risk_report.html")).unwrap();
    assert!(html.contains("生成时间 2021-02-25 10:00 UTC"));
    assert!(html.contains("各类别的抑制") && html.contains("结论："));
}
