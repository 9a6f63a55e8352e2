//! The report phase: the outcome of every province of the run, loaded (its new version),
//! unchanged (the warehouse's current version) or rejected (no valid manifest), with the
//! problems found.

use std::collections::BTreeMap;

use crate::contract::rules::Rule;
use crate::warehouse::{FileCount, ProvinceVersion};

use super::decide::unchanged_version;
use super::report::{IngestReport, ProvinceReport, Status};
use super::staging::StagedFile;
use super::{IngestOptions, ProvinceRun};

/// The ingest report of the run: one province report per run, in the runs' order.
pub(super) fn report(
    opts: &IngestOptions,
    runs: &[ProvinceRun],
    current: Option<&BTreeMap<String, ProvinceVersion>>,
    new_versions: &BTreeMap<String, ProvinceVersion>,
    committed: Option<u64>,
) -> IngestReport {
    let reports = runs
        .iter()
        .map(|run| run_report(run, current, new_versions))
        .collect();
    IngestReport::new(
        opts.warehouse.clone(),
        committed,
        opts.reject_threshold,
        reports,
    )
}

/// The report of one province of the run.
fn run_report(
    run: &ProvinceRun,
    current: Option<&BTreeMap<String, ProvinceVersion>>,
    new_versions: &BTreeMap<String, ProvinceVersion>,
) -> ProvinceReport {
    let code = run.code();
    let source = &run.submission.location.display;
    let mut problems = run.problems.clone();
    for f in &run.files {
        problems.extend(f.problems.iter().cloned());
    }
    if let Some(v) = new_versions.get(&code) {
        province_report(&code, source, v, Status::Loaded, problems)
    } else if let Some(v) = unchanged_version(run, current) {
        province_report(&code, source, v, Status::Unchanged, problems)
    } else {
        rejected_report(run, code, problems)
    }
}

/// The report of a province without a valid manifest: nothing of it loads.
pub(super) fn rejected_report(
    run: &ProvinceRun,
    code: String,
    problems: Vec<String>,
) -> ProvinceReport {
    let files = rejected_files(&run.files);
    let read = files.iter().map(|f| f.rows_read).sum();
    let mut rules = BTreeMap::new();
    rules.insert(Rule::ManifestInvalid.id().to_string(), 1);
    ProvinceReport {
        province_code: code,
        source: run.submission.location.display.clone(),
        submission_id: None,
        status: Status::Rejected,
        version: None,
        files,
        rules,
        problems,
        rows_read: read,
        rows_loaded: 0,
        rows_rejected: read,
        rejected_share: if read == 0 { 0.0 } else { 1.0 },
        resubmission_required: true,
    }
}

/// The report of a province version (loaded now, or unchanged).
pub(super) fn province_report(
    code: &str,
    source: &str,
    v: &ProvinceVersion,
    status: Status,
    problems: Vec<String>,
) -> ProvinceReport {
    let rows_read = v.files.iter().map(|f| f.rows_read).sum();
    let rows_loaded = v.files.iter().map(|f| f.rows_loaded).sum();
    let rows_rejected = v.files.iter().map(|f| f.rows_rejected).sum();
    ProvinceReport {
        province_code: code.to_string(),
        source: source.to_string(),
        submission_id: Some(v.submission_id.clone()),
        status,
        version: Some(v.version),
        files: v.files.clone(),
        rules: v.rules.clone(),
        problems,
        rows_read,
        rows_loaded,
        rows_rejected,
        rejected_share: v.rejected_share,
        resubmission_required: v.resubmission_required,
    }
}

/// The counts of the staged files of a submission that loads nothing: every row read is
/// rejected.
pub(super) fn rejected_files(files: &[StagedFile]) -> Vec<FileCount> {
    files
        .iter()
        .map(|f| FileCount {
            rows_loaded: 0,
            rows_rejected: f.count.rows_read,
            file_rejected: true,
            ..f.count.clone()
        })
        .collect()
}
