//! The census and exit-assessment pipelines against DuckDB running the same SQL files over the
//! same Parquet files, and their peak memory under a memory limit.
//!
//! ```text
//! cargo bench --bench pipeline -- 0.02                       # generate, ingest, then time both
//! cargo bench --bench pipeline -- 0.1
//! cargo bench --bench pipeline -- 1.0 --warehouse DIR --no-duckdb --memory-limit 4GiB
//! ```
//!
//! `--warehouse DIR` reuses (or keeps) an ingested warehouse; `--threads N` (default 2) for both
//! engines. DuckDB runs the very SQL files of `pipelines/census.toml` (parameters filled in the
//! same way); the one built-in step (unpivoting the county sums) becomes generated UNION ALL SQL
//! there. The estimator functions of the exit assessment (`survey_variance`, `t_quantile`, the
//! Korn–Graubard bounds) are Python functions over SciPy there. Both write the outputs as
//! Parquet and CSV.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod common;
use common::{
    BenchArgs, arg_value, engine, ensure_warehouse, peak_rss_mib, reset_peak_rss, runtime,
    venv_python,
};

use povcensus::pipeline::{Pipeline, StepKind, run};
use povcensus::warehouse::Warehouse;

const DUCKDB_SCRIPT: &str = r#"
import duckdb, json, os, sys, time
spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
# povcensus' SQL function for age in completed years (engine/functions.rs), as a DuckDB macro.
con.execute("CREATE MACRO age_on(b, d) AS CAST(year(d) - year(b) - CASE WHEN month(b) * 100 + day(b) > month(d) * 100 + day(d) THEN 1 ELSE 0 END AS BIGINT)")
# povcensus' key_code(key), a key as an exact integer that groups and joins faster than the
# string (engine/functions.rs): a DuckDB user groups and joins the string itself.
con.execute("CREATE MACRO key_code(k) AS k")
# The exit assessment's estimator functions (src/assessment.rs), as Python functions over SciPy:
# DuckDB has no Beta or t quantiles, and no user-defined aggregates, so survey_variance is a
# macro handing the group's lists to a scalar function.
def _stratified_variance(strata, psus, zs):
    if any(z is None for z in zs):
        return None
    totals = {}
    for s, p, z in sorted(zip(strata, psus, zs)):
        totals[(s, p)] = totals.get((s, p), 0.0) + z
    if len(totals) < 2:
        return None
    by_stratum = {}
    for (s, _), t in sorted(totals.items()):
        by_stratum.setdefault(s, []).append(t)
    grand = sum(totals.values()) / len(totals)
    v = 0.0
    for ts in by_stratum.values():
        if len(ts) == 1:
            v += (ts[0] - grand) ** 2
        else:
            m = sum(ts) / len(ts)
            v += len(ts) / (len(ts) - 1) * sum((t - m) ** 2 for t in ts)
    return v
def _t_quantile(p, df):
    if None in (p, df,):
        return None
    return float(scipy.stats.t.ppf(p, df)) if 0 < p < 1 and df > 0 else None
def _kg_n_eff(p, v, n, df, level):
    if None in (p, v, n, df, level,):
        return None
    if not (0 <= p <= 1 and v >= 0 and n >= 1 and 0 < level < 1):
        return None
    base = p * (1 - p) / v if 0 < p < 1 and v > 0 else n
    if n >= 2:
        q = 1 - (1 - level) / 2
        base *= (_t_quantile(q, n - 1) / _t_quantile(q, df)) ** 2
    return min(base, n)
def _kg_lower(p, n_eff, level):
    if None in (p, n_eff, level,):
        return None
    if not (0 <= p <= 1 and n_eff > 0 and 0 < level < 1):
        return None
    return 0.0 if p == 0 else float(scipy.stats.beta.ppf((1 - level) / 2, n_eff * p, n_eff * (1 - p) + 1))
def _kg_upper(p, n_eff, level):
    if None in (p, n_eff, level,):
        return None
    if not (0 <= p <= 1 and n_eff > 0 and 0 < level < 1):
        return None
    return 1.0 if p == 1 else float(scipy.stats.beta.ppf(1 - (1 - level) / 2, n_eff * p + 1, n_eff * (1 - p)))
def _design_effect(p, v, n):
    if None in (p, v, n,):
        return None
    return v * n / (p * (1 - p)) if 0 < p < 1 and v > 0 and n >= 1 else None
import scipy.stats
from duckdb.sqltypes import DOUBLE, BIGINT, VARCHAR
for name, fn, arity in [("t_quantile", _t_quantile, 2), ("kg_n_eff", _kg_n_eff, 5), ("kg_lower", _kg_lower, 3),
                        ("kg_upper", _kg_upper, 3), ("design_effect", _design_effect, 3)]:
    con.create_function(name, fn, [DOUBLE] * arity, DOUBLE, null_handling="special")
con.create_function("stratified_variance", _stratified_variance, [duckdb.list_type(BIGINT), duckdb.list_type(VARCHAR), duckdb.list_type(DOUBLE)], DOUBLE, null_handling="special")
con.execute("CREATE MACRO survey_variance(s, p, z) AS stratified_variance(list(CAST(s AS BIGINT)), list(CAST(p AS VARCHAR)), list(CAST(z AS DOUBLE)))")
con.execute(f"SET threads = {spec['threads']}")
con.execute("SET enable_progress_bar = false")
# Spill files in the benchmark's temporary directory, not in the working directory.
con.execute(f"SET temp_directory = '{spec['out']}.spill'")
con.execute(f"SET memory_limit = '{spec['memory_mib']}MiB'")
start = time.perf_counter()
for table, files in spec["tables"].items():
    lst = ", ".join("'" + f + "'" for f in files)
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{lst}])")
con.execute("CREATE TABLE ref_provinces AS SELECT * FROM read_csv('" + spec["ref_provinces"] + "', header = true, all_varchar = false, types = {'province_code': 'VARCHAR'})")
for step in spec["steps"]:
    # DuckDB's decimals stop at 38 digits; the shipped SQL uses 76 where weights multiply sums.
    name, sql = step["name"], step["sql"].replace("DECIMAL(76,", "DECIMAL(38,")
    if step.get("unpivot"):
        parts, order = [], 0
        for src in step["unpivot"]:
            cols = [r[0] for r in con.execute(f"DESCRIBE {src}").fetchall()]
            for c in cols:
                if c.endswith("__num"):
                    ind = c[:-5]
                    parts.append(f"SELECT county_code, '{ind}' AS indicator_id, {order} AS indicator_order, "
                                 f"CAST({ind}__num AS DECIMAL(38, 6)) AS numerator, CAST({ind}__den AS DECIMAL(38, 6)) AS denominator FROM {src}")
                    order += 1
        con.execute(f"CREATE TABLE {name} AS " + " UNION ALL ".join(parts))
    elif step["output"]:
        con.execute(f"CREATE TABLE {name} AS {sql}")
        out = spec["out"]
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet, COMPRESSION zstd)")
        con.execute(f"COPY {name} TO '{out}/{name}.csv' (HEADER)")
    elif step["materialize"]:
        con.execute(f"CREATE TABLE {name} AS {sql}")
    else:
        con.execute(f"CREATE VIEW {name} AS {sql}")
elapsed = time.perf_counter() - start
rows = con.execute(f"SELECT COUNT(*) FROM {spec['check']}").fetchone()[0]
print(f"{elapsed:.3f} {rows}")
"#;

fn main() {
    let BenchArgs {
        args,
        scale,
        threads,
        memory,
        with_duckdb,
    } = BenchArgs::parse(4 << 30);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let wh_dir =
        arg_value(&args, "--warehouse").map_or_else(|| tmp.path().join("warehouse"), PathBuf::from);
    let rt = runtime(threads);
    let engine = engine(memory, threads, tmp.path());
    ensure_warehouse(&rt, &wh_dir, tmp.path(), scale, &engine);
    let wh = Warehouse::open(wh_dir.to_str().expect("utf-8 path"), false).expect("warehouse");
    let snapshot = rt
        .block_on(wh.latest())
        .expect("catalog")
        .expect("a snapshot");
    let persons: u64 = snapshot
        .provinces
        .values()
        .map(|p| p.tables["persons"].rows)
        .sum();
    let python = if with_duckdb {
        let p = venv_python(root);
        if p.is_none() {
            println!("  duckdb: not available (run .ci/python-env)");
        }
        p
    } else {
        None
    };
    println!(
        "pipelines on {persons} persons ({} provinces), {threads} threads, memory limit {} MiB",
        snapshot.provinces.len(),
        memory >> 20
    );
    for (name, check) in [
        ("census", "indicators"),
        ("exit_assessment", "exit_assessment"),
    ] {
        let pipeline =
            Pipeline::load(&root.join(format!("pipelines/{name}.toml")), &[]).expect("pipeline");
        reset_peak_rss();
        let out = tmp.path().join(format!("out-{name}"));
        let start = Instant::now();
        let manifest = rt
            .block_on(run(&pipeline, &wh, Some(&snapshot), &out, &engine))
            .expect("run");
        let ours = start.elapsed().as_secs_f64();
        let peak = peak_rss_mib();
        let rows = manifest
            .outputs
            .iter()
            .find(|o| o.file == format!("{check}.parquet"))
            .map_or(0, |o| o.rows);
        println!(
            "  povcensus run pipelines/{name}.toml {ours:>9.2} s   {rows} {check} rows   peak RSS {peak:.0} MiB"
        );
        if let Some(python) = &python {
            let theirs = duckdb_run(
                python,
                &pipeline,
                &snapshot,
                &wh_dir,
                tmp.path(),
                name,
                check,
                threads,
                memory,
                rows,
            );
            println!("  ratio povcensus / duckdb ({name}) {:>9.2}", ours / theirs);
        }
    }
}

/// DuckDB running the pipeline's SQL files over the snapshot's Parquet files: its seconds.
#[allow(clippy::too_many_arguments)]
fn duckdb_run(
    python: &Path,
    pipeline: &Pipeline,
    snapshot: &povcensus::warehouse::Snapshot,
    wh_dir: &Path,
    tmp: &Path,
    name: &str,
    check: &str,
    threads: usize,
    memory: usize,
    rows: u64,
) -> f64 {
    // The same tables, files and SQL for DuckDB.
    let mut tables = serde_json::Map::new();
    for t in povcensus::contract::schema::Table::ALL
        .iter()
        .map(|t| t.name())
    {
        let files: Vec<String> = snapshot
            .provinces
            .values()
            .filter_map(|p| p.tables.get(t))
            .map(|f| wh_dir.join(&f.path).display().to_string())
            .collect();
        tables.insert(t.to_string(), files.into());
    }
    let refs = tmp.join("ref_provinces.csv");
    let mut csv = String::from(
        "province_code,province_name,region,exit_threshold_pct,national_poverty_counties\n",
    );
    for p in &povcensus::contract::reference::Reference::get().provinces {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            p.code,
            p.name,
            p.region.as_str(),
            p.exit_threshold_pct,
            p.national_poverty_counties
        ));
    }
    std::fs::write(&refs, csv).expect("write refs");
    let steps: Vec<serde_json::Value> = pipeline
        .steps
        .iter()
        .map(|s| {
            let sql = match &s.kind {
                StepKind::Sql { text, .. } => {
                    let mut t = text.clone();
                    for (k, v) in &pipeline.parameters {
                        t = t.replace(&format!("${{{k}}}"), v);
                    }
                    t
                }
                StepKind::Builtin(_) => String::new(),
            };
            let unpivot = matches!(s.kind, StepKind::Builtin(_)).then(|| s.depends_on.clone());
            serde_json::json!({"name": s.name, "sql": sql, "materialize": s.materialize, "output": s.output, "unpivot": unpivot})
        })
        .collect();
    let duck_out = tmp.join(format!("duckdb-{name}"));
    std::fs::create_dir_all(&duck_out).expect("dir");
    let spec = serde_json::json!({
        "threads": threads, "memory_mib": memory >> 20, "tables": tables, "steps": steps,
        "ref_provinces": refs.display().to_string(), "out": duck_out.display().to_string(),
        "check": check,
    });
    let spec_path = tmp.join(format!("spec-{name}.json"));
    std::fs::write(&spec_path, spec.to_string()).expect("spec");
    let o = Command::new(python)
        .args(["-c", DUCKDB_SCRIPT])
        .arg(&spec_path)
        .output()
        .expect("duckdb");
    assert!(
        o.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let mut parts = text.lines().last().unwrap_or_default().split_whitespace();
    let theirs: f64 = parts.next().and_then(|s| s.parse().ok()).expect("time");
    let their_rows: u64 = parts.next().and_then(|s| s.parse().ok()).expect("rows");
    println!("  duckdb, same SQL and outputs ({name}) {theirs:>9.2} s   {their_rows} {check} rows");
    assert_eq!(
        rows, their_rows,
        "both engines compute the same {check} rows"
    );
    theirs
}
