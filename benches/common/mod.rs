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
