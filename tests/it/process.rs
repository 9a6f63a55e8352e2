//! The process at its edges: an interrupt removes the confidential scratch files and exits
//! 130/143, files are created owner-only, and a reader that goes away ends `sql` quietly.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use povcensus::generator::{self, GenerateOptions};

use crate::ingest::{ingest_sample, povcensus};
use crate::support::{entries_below as walk, files_below};

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Starts an ingest of a generated province, waits until it has staged files, sends `signal`
/// and returns the exit status and the staging and temporary directories it used.
fn interrupt_ingest(signal: &str) -> (Option<i32>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let mut o = GenerateOptions::new(&subs);
    o.scale = 0.02;
    o.provinces = Some(vec!["53".into()]);
    generator::generate(&o).unwrap();
    let staging = dir.path().join("staging");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args(["ingest", subs.join("53").to_str().unwrap(), "--warehouse"])
        .arg(dir.path().join("wh"))
        .arg("--staging")
        .arg(&staging)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let staged = loop {
        let files = files_below(&staging);
        if !files.is_empty() {
            break files;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "ingest staged nothing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest ended before staging"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // While it runs, what it stages is private.
    for p in walk(&staging) {
        if p.exists() {
            let m = mode(&p);
            assert_eq!(m & 0o077, 0, "{} has mode {m:o}", p.display());
        }
    }
    assert!(!staged.is_empty());
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    (code, dir)
}

fn assert_no_scratch_left(dir: &Path) {
    let left: Vec<PathBuf> = walk(&dir.join("staging"))
        .into_iter()
        .chain(walk(&dir.join("tmp")))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn ctrl_c_during_ingest_removes_the_staging_files_and_exits_130() {
    let (code, dir) = interrupt_ingest("-INT");
    assert_eq!(code, Some(130));
    assert_no_scratch_left(dir.path());
}

#[test]
fn sigterm_during_ingest_removes_the_staging_files_and_exits_143() {
    let (code, dir) = interrupt_ingest("-TERM");
    assert_eq!(code, Some(143));
    assert_no_scratch_left(dir.path());
}

#[test]
fn the_warehouse_is_created_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let paths = walk(Path::new(&wh));
    assert!(paths.iter().any(|p| p.is_file()), "the warehouse has files");
    for p in paths {
        let m = mode(&p);
        assert_eq!(m & 0o077, 0, "{} has mode {m:o}", p.display());
    }
}

#[test]
fn sql_into_a_closed_pipe_ends_quietly_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args(["sql", "--format", "csv", "--warehouse"])
        .arg(dir.path())
        .args(["-c", "SELECT value FROM generate_series(1, 2000000)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "value");
    drop(stdout); // as `| head -1` does
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}

#[test]
fn a_failure_prints_error_and_each_cause_once_without_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let o = povcensus(&[
        "run",
        "pipelines/census.toml",
        "--warehouse",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let first = stderr.lines().next().unwrap_or("");
    assert!(first.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!stderr.contains(" ERROR "), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), lines.len(), "a line repeats: {stderr}");
}

#[test]
fn a_sql_syntax_error_is_said_once_without_debug_dress() {
    let dir = tempfile::tempdir().unwrap();
    let o = povcensus(&[
        "sql",
        "--warehouse",
        dir.path().to_str().unwrap(),
        "-c",
        "SELEC 1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("error: the SQL does not parse: Expected: an SQL statement, found: SELEC"),
        "{stderr}"
    );
    assert!(!stderr.contains("ParserError"), "{stderr}");
    assert_eq!(stderr.matches("found: SELEC").count(), 1, "{stderr}");
}

#[test]
fn a_successful_run_prints_the_files_it_wrote_and_no_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let out = dir.path().join("out");
    let o = povcensus(&[
        "run",
        "pipelines/census.toml",
        "--warehouse",
        &wh,
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "a quiet success");
    let files: Vec<PathBuf> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    assert!(files.contains(&out.join("indicators.parquet")), "{files:?}");
    assert!(files.contains(&out.join("indicators.csv")), "{files:?}");
    assert!(files.iter().all(|f| f.is_file()), "{files:?}");
}
