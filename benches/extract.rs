//! The research extract: throughput (persons per second) and peak memory of
//! `povcensus extract` (pseudonyms, generalization, k-anonymity, risk report, published tables).
//!
//! ```text
//! cargo bench --bench extract -- 0.1                 # generate, ingest, then time the extract
//! cargo bench --bench extract -- 0.1 --warehouse DIR # reuse (or keep) an ingested warehouse
//! ```
//!
//! There is no DuckDB peer here: DuckDB has no k-anonymization to compare with, so the figure
//! is absolute (persons per second, peak RSS). `--threads N` (default 2).

use std::path::PathBuf;
use std::time::Instant;

mod common;
use common::{
    BenchArgs, arg_value, engine, ensure_warehouse, peak_rss_mib, reset_peak_rss, runtime,
};

use povcensus::extract::{ExtractOptions, Key, write};

fn main() {
    let BenchArgs {
        args,
        scale,
        threads,
        memory,
        ..
    } = BenchArgs::parse(4 << 30);
    let tmp = tempfile::tempdir().expect("temp dir");
    let wh_dir =
        arg_value(&args, "--warehouse").map_or_else(|| tmp.path().join("warehouse"), PathBuf::from);
    let rt = runtime(threads);
    let engine = engine(memory, threads, tmp.path());
    ensure_warehouse(&rt, &wh_dir, tmp.path(), scale, &engine);
    let opts = ExtractOptions {
        warehouse: wh_dir.display().to_string(),
        out: tmp.path().join("extract"),
        key: Key::from_bytes(b"benchmark key, not a secret"),
        k: 5,
        min_ethnicity_persons: 500,
        income_top_percentile: 99.0,
        cell_threshold: 10,
        l: 2,
        generated_at: "2021-02-25 10:00 UTC".into(),
        as_of: None,
        engine,
        progress: false,
    };
    reset_peak_rss();
    let start = Instant::now();
    let report = rt.block_on(write(&opts)).expect("extract");
    let secs = start.elapsed().as_secs_f64();
    let peak = peak_rss_mib();
    println!(
        "research extract of {} persons, {} households, k = {}, {threads} threads",
        report.persons, report.households, report.k
    );
    println!(
        "  povcensus extract   {secs:>8.2} s   {:.0} persons/s   peak RSS {peak:.0} MiB   \
         area generalized {:.1} % of households, sample uniques {} → {}",
        report.persons as f64 / secs,
        100.0 * report.area_generalized_share,
        report.sample_uniques_before,
        report.sample_uniques_after
    );
}
