//! Generator throughput and peak memory.
//!
//! `cargo bench --bench generate -- [SCALE] [OUT_DIR] [--registers]` (default scale 0.1, a
//! temporary directory; `--registers` also draws the departments' registers and their
//! matching ground truth, and prints their rows). Prints rows/s, MB/s and the process's peak resident memory (VmHWM). The issue's
//! target: scale 1.0 in under 5 minutes with peak memory under 1 GiB on 2 cores.

use std::time::Instant;

use povcensus::generator::{GenerateOptions, generate};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let scale: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(0.1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = args
        .get(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let mut opts = GenerateOptions::new(&out);
    opts.scale = scale;
    opts.registers = std::env::args().any(|a| a == "--registers");
    let threads = rayon::current_num_threads();
    let start = Instant::now();
    let summary = generate(&opts).expect("generate");
    let secs = start.elapsed().as_secs_f64();
    let mb = summary.bytes as f64 / 1e6;
    println!("generate scale {scale} on {threads} threads");
    println!("  rows      {:>14}", summary.rows);
    println!("  megabytes {:>14.1}", mb);
    println!("  seconds   {:>14.2}", secs);
    println!("  rows/s    {:>14.0}", summary.rows as f64 / secs);
    println!("  MB/s      {:>14.1}", mb / secs);
    if let Some(r) = &summary.registers {
        let rows: u64 = r.rows.values().sum();
        let findings: u64 = r.findings.values().sum();
        println!("  register rows {:>10}", rows);
        println!("  findings  {:>14}", findings);
    }
    if let Some(peak) = peak_rss_mib() {
        println!("  peak RSS  {:>11.0} MiB", peak);
    }
}
