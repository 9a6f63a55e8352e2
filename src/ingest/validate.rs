//! `povcensus validate`: every check of an ingest (manifest, files, row rules, cross-row rules,
//! duplicates against the warehouse when one is given) and the same report, with nothing
//! written. Staging and spill files go to a private scratch directory that is removed; the
//! warehouse is only read, and without one the checks run against an empty warehouse inside
//! that scratch directory.

use std::collections::BTreeSet;

use crate::contract::schema::Table;
use crate::warehouse::{FileCount, Warehouse};

use super::cross::CrossFinding;
use super::decide::Changed;
use super::report::{IngestReport, ProvinceReport, Status};
use super::{IngestError, IngestOptions, ProvinceRun, crosscheck, discover, staging, summary};

/// Validate the submissions of `opts`; `opts.warehouse` empty means no warehouse (duplicates
/// are then checked within the submissions only). Nothing is written: the report is returned.
pub async fn validate(opts: &IngestOptions) -> Result<IngestReport, IngestError> {
    if !(0.0..=1.0).contains(&opts.reject_threshold) {
        return Err(IngestError::Threshold(opts.reject_threshold));
    }
    // Private (0700), removed on drop and by `scratch::remove_all` on an interrupt.
    let scratch =
        crate::engine::scratch::ScratchDir::new(opts.staging.as_deref(), "povcensus-validate-")
            .map_err(IngestError::StagingDir)?;
    let staging = scratch.path().join("staging");
    std::fs::create_dir(&staging).map_err(IngestError::StagingDir)?;
    let warehouse = if opts.warehouse.is_empty() {
        // An empty warehouse of the scratch directory: nothing is created anywhere else.
        let empty = scratch.path().join("no-warehouse");
        Warehouse::open(&empty.to_string_lossy(), true)?
    } else {
        // Opened without creating it: a validation never makes a warehouse.
        Warehouse::open(&opts.warehouse, false)?
    };
    let latest = warehouse.latest().await?;
    let current = latest.as_ref().map(|s| &s.provinces);

    let submissions = discover::submissions(&opts.submissions).await?;
    let runs = staging::stage_all(submissions, &staging, opts).await?;

    // Every submission with a valid manifest is checked as if it replaced its province's
    // current version (also when its content is that version's).
    let indices: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].manifest.is_some())
        .collect();
    let codes: BTreeSet<String> = indices.iter().map(|&i| runs[i].code()).collect();
    let changed = Changed {
        runs: indices,
        codes,
    };
    let findings = if changed.runs.is_empty() {
        Vec::new()
    } else {
        crosscheck::cross_check(&runs, &changed, current, &warehouse, &staging, opts)
            .await?
            .findings
    };
    let reports = runs
        .iter()
        .map(|run| checked_report(run, &findings, opts.reject_threshold))
        .collect();
    let mut report =
        IngestReport::new(opts.warehouse.clone(), None, opts.reject_threshold, reports);
    report.validate_only = true;
    Ok(report)
}

/// The report of one validated submission.
fn checked_report(run: &ProvinceRun, findings: &[CrossFinding], threshold: f64) -> ProvinceReport {
    let code = run.code();
    let mut problems = run.problems.clone();
    for f in &run.files {
        problems.extend(f.problems.iter().cloned());
    }
    let Some(manifest) = &run.manifest else {
        return summary::rejected_report(run, code, problems);
    };
    let mine: Vec<&CrossFinding> = findings.iter().filter(|f| f.province == code).collect();
    let files: Vec<FileCount> = Table::ALL
        .iter()
        .filter_map(|&t| {
            let sf = run.files.iter().find(|f| f.table == t)?;
            Some(super::write::count_with(sf, t, &mine).0)
        })
        .collect();
    let rows_read: u64 = files.iter().map(|f| f.rows_read).sum();
    let rows_loaded: u64 = files.iter().map(|f| f.rows_loaded).sum();
    let rows_rejected: u64 = files.iter().map(|f| f.rows_rejected).sum();
    let share = if rows_read == 0 {
        0.0
    } else {
        rows_rejected as f64 / rows_read as f64
    };
    ProvinceReport {
        province_code: code,
        source: run.submission.location.display.clone(),
        submission_id: Some(manifest.submission_id.clone()),
        status: Status::Checked,
        version: None,
        files,
        rules: super::write::rule_counts(run, &mine),
        problems,
        rows_read,
        rows_loaded,
        rows_rejected,
        rejected_share: share,
        resubmission_required: share > threshold,
    }
}
