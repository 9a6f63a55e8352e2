//! A self-contained binary: the pipelines and their SQL are built in, so `run census` and
//! `report` work from any directory; `pipelines` lists them, `check` validates one.

use std::path::Path;
use std::process::Command;

use crate::ingest::ingest_sample;
use crate::support::files_below;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs povcensus in `dir` (not the checkout).
fn povcensus_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_built_in_definitions_are_the_files_of_the_checkout() {
    let mut on_disk: Vec<(String, String)> = files_below(&root().join("pipelines"))
        .into_iter()
        .chain(files_below(&root().join("queries/census")))
        .chain(files_below(&root().join("queries/assessment")))
        .chain(files_below(&root().join("queries/extract")))
        .chain(files_below(&root().join("queries/matching")))
        .map(|p| {
            let rel = p.strip_prefix(root()).unwrap().display().to_string();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    on_disk.sort();
    let mut built_in: Vec<(String, String)> = povcensus::pipeline::EMBEDDED
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    built_in.sort();
    let names = |v: &[(String, String)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&built_in),
        names(&on_disk),
        "pipeline::EMBEDDED lists every file"
    );
    assert_eq!(built_in, on_disk);
}

#[test]
fn run_and_report_work_from_any_directory_with_the_built_in_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let o = povcensus_in(
        &elsewhere,
        &["run", "census", "--warehouse", &wh, "--out", "out"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(elsewhere.join("out/indicators.parquet").is_file());
    let o = povcensus_in(
        &elsewhere,
        &["report", "--warehouse", &wh, "--out", "reports"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(elsewhere.join("reports/index.html").is_file());
}

#[test]
fn a_misspelt_pipeline_is_refused_with_the_nearest_name() {
    let dir = tempfile::tempdir().unwrap();
    let o = povcensus_in(dir.path(), &["check", "cencus"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("error: there is no pipeline `cencus`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: did you mean `census`?"), "{stderr}");
}

#[test]
fn pipelines_lists_each_with_its_outputs_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let o = povcensus_in(dir.path(), &["pipelines"]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("census: writes indicators, village_exit"),
        "{out}"
    );
    assert!(out.contains("exit_assessment: writes"), "{out}");
    assert!(out.contains("  --param confidence_level=0.95"), "{out}");
}

#[test]
fn check_validates_without_a_warehouse_and_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let o = povcensus_in(dir.path(), &["check", "exit_assessment"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("valid"));
    // A customised copy with a step that reads a file that is not there.
    let copy = dir.path().join("mine/pipelines");
    std::fs::create_dir_all(&copy).unwrap();
    let text = std::fs::read_to_string(root().join("pipelines/census.toml")).unwrap();
    let broken = text.replacen(".sql\"", "_missing.sql\"", 1);
    assert_ne!(broken, text);
    std::fs::write(copy.join("census.toml"), broken).unwrap();
    let o = povcensus_in(
        dir.path(),
        &["check", "census", "--pipelines", copy.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("_missing.sql"), "{stderr}");
}
