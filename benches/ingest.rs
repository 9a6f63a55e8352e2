//! Ingest throughput against DuckDB, and peak memory at national scale.
//!
//! ```text
//! cargo bench --bench ingest -- 0.02            # povcensus ingest vs DuckDB CSV → Parquet
//! cargo bench --bench ingest -- 1.0 --no-duckdb  # national scale: time and peak memory only
//! ```
//!
//! Options: `--threads N` (default 2, both engines), `--memory-limit 3GiB` (DataFusion pool),
//! `--data DIR` (keep and reuse the generated submissions there), `--warehouse DIR` (keep the
//! warehouse, e.g. for `benches/pipeline.rs`).
//!
//! The peer does less work on purpose: DuckDB (from PyPI, in the project's test venv) converts
//! the same CSV files to zstd Parquet with type inference and no validation at all, while
//! povcensus decodes, validates every rule, checks orphans and duplicates nationally, writes
//! the warehouse and commits. The ratio is povcensus time / DuckDB time (≤ 1.0: povcensus is at
//! least as fast).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod common;
use common::{BenchArgs, arg_value, peak_rss_mib, reset_peak_rss, venv_python};

use povcensus::engine::EngineConfig;
use povcensus::generator::{GenerateOptions, generate};
use povcensus::ingest::{IngestOptions, ingest};

const DUCKDB_SCRIPT: &str = r#"
import duckdb, os, sys, time
src, dst, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
files = []
for prov in sorted(os.listdir(src)):
    d = os.path.join(src, prov)
    if len(prov) != 2 or not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        if name.endswith(".csv"):
            files.append((prov, name, os.path.join(d, name)))
os.makedirs(dst, exist_ok=True)
start = time.perf_counter()
rows = 0
for prov, name, path in files:
    out = os.path.join(dst, f"{prov}_{name[:-4]}.parquet")
    con.execute(f"COPY (SELECT * FROM read_csv('{path}', header = true)) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    rows += con.execute(f"SELECT COUNT(*) FROM read_parquet('{out}')").fetchone()[0]
print(f"{time.perf_counter() - start:.3f} {rows}")
"#;

fn main() {
    let BenchArgs {
        args,
        scale,
        threads,
        memory,
        with_duckdb,
    } = BenchArgs::parse(3 << 30);
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
            println!("  duckdb: not available (run .ci/python-env)");
            return;
        };
        let out = Command::new(python)
            .args(["-c", DUCKDB_SCRIPT])
            .arg(&data)
            .arg(tmp.path().join("duckdb"))
            .arg(threads.to_string())
            .output()
            .expect("run duckdb");
        assert!(
            out.status.success(),
            "duckdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split_whitespace();
        let theirs: f64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("duckdb time");
        let rows: u64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("duckdb rows");
        println!(
            "  duckdb CSV → Parquet (no validation)        {theirs:>9.2} s   {:>10.0} rows/s",
            rows as f64 / theirs
        );
        println!(
            "  ratio povcensus / duckdb                    {:>9.2}",
            ours / theirs
        );
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
