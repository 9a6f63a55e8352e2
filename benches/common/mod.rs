//! Helpers shared by the benchmarks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Peak resident memory of this process so far (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Reset the peak-RSS counter (Linux: writing 5 to clear_refs), so a figure covers one phase.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The value after `--name` on the command line.
pub fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The project's test venv python (DuckDB from PyPI lives there), made by `.ci/python-env`.
pub fn venv_python(root: &Path) -> Option<PathBuf> {
    let out = Command::new("bash")
        .arg(root.join(".ci/python-env"))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python env: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()?
        .trim()
        .to_string();
    Some(PathBuf::from(last))
}

/// The options every benchmark takes: `SCALE` (default 0.02), `--threads N` (default 2, for
/// both engines), `--memory-limit SIZE`, `--no-duckdb`.
pub struct BenchArgs {
    pub args: Vec<String>,
    pub scale: f64,
    pub threads: usize,
    pub memory: usize,
    pub with_duckdb: bool,
}

impl BenchArgs {
    pub fn parse(default_memory: usize) -> BenchArgs {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let scale = args.iter().find_map(|a| a.parse().ok()).unwrap_or(0.02);
        let threads = arg_value(&args, "--threads")
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        let memory = arg_value(&args, "--memory-limit").map_or(default_memory, |s| {
            povcensus::engine::parse_size(&s).expect("memory size")
        });
        let with_duckdb = !args.iter().any(|a| a == "--no-duckdb");
        BenchArgs {
            args,
            scale,
            threads,
            memory,
            with_duckdb,
        }
    }
}

/// A tokio runtime with `threads` workers.
pub fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The engine settings of a benchmark: the pool, the threads, spills under `spill_dir`.
pub fn engine(memory: usize, threads: usize, spill_dir: &Path) -> povcensus::engine::EngineConfig {
    povcensus::engine::EngineConfig {
        memory_limit: memory,
        kept_memory: povcensus::engine::kept_memory(memory),
        spill_dir: Some(spill_dir.to_path_buf()),
        threads,
        joins: povcensus::engine::JoinStrategy::Auto,
        cluster: None,
    }
}

/// Make sure `wh_dir` holds an ingested warehouse: when it has no catalog yet, generate
/// submissions of `scale` under `tmp` and ingest them.
pub fn ensure_warehouse(
    rt: &tokio::runtime::Runtime,
    wh_dir: &Path,
    tmp: &Path,
    scale: f64,
    engine: &povcensus::engine::EngineConfig,
) {
    if wh_dir.join("_catalog").exists() {
        return;
    }
    let subs = tmp.join("subs");
    let mut g = povcensus::generator::GenerateOptions::new(&subs);
    g.scale = scale;
    povcensus::generator::generate(&g).expect("generate");
    let mut opts = povcensus::ingest::IngestOptions::new(
        vec![subs.display().to_string()],
        wh_dir.display().to_string(),
    );
    opts.engine = engine.clone();
    let t = std::time::Instant::now();
    rt.block_on(povcensus::ingest::ingest(&opts))
        .expect("ingest");
    eprintln!(
        "ingested scale {scale} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// The warehouse a benchmark reads: `--warehouse DIR` (kept, reused when it holds a catalog)
/// or one under `tmp`, generated and ingested at the benchmark's scale when new.
pub fn warehouse_dir(
    bench: &BenchArgs,
    rt: &tokio::runtime::Runtime,
    tmp: &Path,
    engine: &povcensus::engine::EngineConfig,
) -> PathBuf {
    let dir =
        arg_value(&bench.args, "--warehouse").map_or_else(|| tmp.join("warehouse"), PathBuf::from);
    ensure_warehouse(rt, &dir, tmp, bench.scale, engine);
    dir
}

/// Run a pipeline over a snapshot into `out`: its run manifest, the seconds it took and the
/// peak resident memory (MiB) while it ran.
pub fn timed_run(
    rt: &tokio::runtime::Runtime,
    pipeline: &povcensus::pipeline::Pipeline,
    wh: &povcensus::warehouse::Warehouse,
    snapshot: &povcensus::warehouse::Snapshot,
    out: &Path,
    engine: &povcensus::engine::EngineConfig,
) -> (povcensus::pipeline::RunManifest, f64, f64) {
    reset_peak_rss();
    let start = std::time::Instant::now();
    let run = povcensus::pipeline::run(pipeline, wh, Some(snapshot), out, engine);
    let manifest = rt.block_on(run).expect("run");
    (manifest, start.elapsed().as_secs_f64(), peak_rss_mib())
}
