//! Ingest throughput against DuckDB, and peak memory at national scale.
//!
//! ```text
//! cargo bench --bench ingest -- 0.02            # povcensus ingest vs DuckDB and Polars
//! cargo bench --bench ingest -- 1.0 --no-duckdb  # national scale: time and peak memory only
//! ```
//!
//! Options: `--threads N` (default 2, both engines), `--memory-limit 3GiB` (DataFusion pool),
//! `--data DIR` (keep and reuse the generated submissions there), `--warehouse DIR` (keep the
//! warehouse, e.g. for `benches/pipeline.rs`). `RUST_LOG=povcensus=info` logs the phases of the
//! run with their times.
//!
//! The peers do less work on purpose: DuckDB and Polars (from PyPI, in the project's test venv)
//! convert the same CSV files to zstd Parquet with type inference and no validation at all —
//! one statement per table over all provinces' files, as their users write it — while
//! povcensus decodes, validates every rule, checks orphans and duplicates nationally, writes
//! the warehouse and commits. Each ratio is povcensus time / the peer's time (≤ 1.0: povcensus
//! is at least as fast). `--no-duckdb` leaves both peers out.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod common;
use common::{BenchArgs, arg_value, peak_rss_mib, reset_peak_rss, venv_python};

use povcensus::engine::EngineConfig;
use povcensus::generator::{GenerateOptions, generate};
use povcensus::ingest::{IngestOptions, ingest};

/// The CSV files of each table across all provinces, as the peers' scripts list them.
const LIST_TABLES: &str = r#"
import os, sys, time
src, dst, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
tables = {}
for prov in sorted(os.listdir(src)):
    d = os.path.join(src, prov)
    if len(prov) != 2 or not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        if name.endswith(".csv"):
            tables.setdefault(name[:-4], []).append(os.path.join(d, name))
os.makedirs(dst, exist_ok=True)
"#;

/// DuckDB as its users write a conversion: one `COPY` per table over all provinces' files.
const DUCKDB_SCRIPT: &str = r#"
import duckdb
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
con.execute(f"SET temp_directory = '{dst}.spill'")
start = time.perf_counter()
for table, files in sorted(tables.items()):
    out = os.path.join(dst, f"{table}.parquet")
    con.execute(f"COPY (SELECT * FROM read_csv({files!r}, header = true, union_by_name = true)) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
elapsed = time.perf_counter() - start
rows = sum(con.execute(f"SELECT COUNT(*) FROM read_parquet('{os.path.join(dst, t + '.parquet')}')").fetchone()[0] for t in tables)
print(f"{elapsed:.3f} {rows}")
"#;

/// Polars as its users write a conversion: a lazy `scan_csv` over each table's files streamed
/// into one zstd Parquet file (`POLARS_MAX_THREADS` set to the threads before the import).
const POLARS_SCRIPT: &str = r#"
import polars as pl
start = time.perf_counter()
for table, files in sorted(tables.items()):
    out = os.path.join(dst, f"{table}.parquet")
    pl.scan_csv(files, try_parse_dates=True).sink_parquet(out, compression="zstd")
elapsed = time.perf_counter() - start
rows = sum(pl.scan_parquet(os.path.join(dst, f"{t}.parquet")).select(pl.len()).collect().item() for t in tables)
print(f"{elapsed:.3f} {rows}")
"#;

/// Run one peer's conversion of `data` into `out`: its seconds and the rows it wrote.
fn peer(python: &Path, script: &str, data: &Path, out: &Path, threads: usize) -> (f64, u64) {
    let o = Command::new(python)
        .args(["-c", &format!("{LIST_TABLES}{script}")])
        .arg(data)
        .arg(out)
        .arg(threads.to_string())
        .env("POLARS_MAX_THREADS", threads.to_string())
        .output()
        .expect("run python");
    assert!(
        o.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let mut parts = text.lines().last().unwrap_or_default().split_whitespace();
    let seconds = parts.next().and_then(|s| s.parse().ok()).expect("time");
    let rows = parts.next().and_then(|s| s.parse().ok()).expect("rows");
    (seconds, rows)
}

fn main() {
    let BenchArgs {
        args,
        scale,
        threads,
        memory,
        with_duckdb,
    } = BenchArgs::parse(3 << 30);
    // `RUST_LOG=povcensus=info` shows the run's phases and their times on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = arg_value(&args, "--data").map_or_else(|| tmp.path().join("subs"), PathBuf::from);

    if !data.join("52/manifest.json").exists() {
        let mut g = GenerateOptions::new(&data);
        g.scale = scale;
        let t = Instant::now();
        generate(&g).expect("generate");
        eprintln!(
            "generated scale {scale} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let csv_bytes: u64 = walk(&data)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .sum();

    let wh =
        arg_value(&args, "--warehouse").map_or_else(|| tmp.path().join("warehouse"), PathBuf::from);
    let mut opts = IngestOptions::new(vec![data.display().to_string()], wh.display().to_string());
    opts.engine = EngineConfig {
        memory_limit: memory,
        kept_memory: povcensus::engine::kept_memory(memory),
        spill_dir: None,
        threads,
        joins: povcensus::engine::JoinStrategy::Auto,
        cluster: None,
    };
    opts.staging = Some(tmp.path().join("staging"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    reset_peak_rss();
    let start = Instant::now();
    let report = rt.block_on(ingest(&opts)).expect("ingest");
    let ours = start.elapsed().as_secs_f64();
    let peak = peak_rss_mib();
    println!(
        "ingest scale {scale}: {:.1} MB of CSV, {} rows, {threads} threads, memory pool {} MiB",
        csv_bytes as f64 / 1e6,
        report.rows_read,
        memory >> 20
    );
    println!(
        "  povcensus ingest (validate + load + commit)  {ours:>9.2} s   {:>10.0} rows/s   peak RSS {peak:.0} MiB",
        report.rows_read as f64 / ours
    );
    assert!(report.balanced, "rows balance");

    if with_duckdb {
        let Some(python) = venv_python(root) else {
            println!("  peers: not available (run .ci/python-env)");
            return;
        };
        for (name, script) in [
            ("duckdb CSV → Parquet (no validation)", DUCKDB_SCRIPT),
            ("polars CSV → Parquet (no validation)", POLARS_SCRIPT),
        ] {
            let dir = tmp.path().join(name.split(' ').next().unwrap_or("peer"));
            let (theirs, rows) = peer(&python, script, &data, &dir, threads);
            println!(
                "  {name:<43} {theirs:>9.2} s   {:>10.0} rows/s",
                rows as f64 / theirs
            );
            assert_eq!(rows, report.rows_read, "the peer converted every row");
            println!(
                "    ratio povcensus / {:<24} {:>9.2}",
                name.split(' ').next().unwrap_or("peer"),
                ours / theirs
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    out.push(p)
                }
            }
        }
    }
    out
}
