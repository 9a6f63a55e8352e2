//! `povcensus validate`: every check of an ingest (manifest, files, row rules, cross-row rules,
//! duplicates against the warehouse when one is given) and the same report, with nothing
//! written. Staging and spill files go to a private scratch directory that is removed; the
//! warehouse is only read, and without one the checks run against an empty warehouse inside
//! that scratch directory.

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::contract::schema::Table;
use crate::warehouse::{FileCount, Warehouse};

use super::cross::CrossFinding;
use super::decide::Changed;
use super::report::{IngestReport, ProvinceReport, Status};
use super::{
    IngestError, IngestOptions, ProvinceRun, crosscheck, discover, registers, staging, summary,
};

/// Validate the submissions of `opts`; `opts.warehouse` empty means no warehouse (duplicates
/// are then checked within the submissions only). Nothing is written but, when `rejects_csv`
/// is given, the list of rejected and flagged rows there: the report is returned.
pub async fn validate(
    opts: &IngestOptions,
    rejects_csv: Option<&Path>,
) -> Result<IngestReport, IngestError> {
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

    let (submissions, department_submissions) = discover::submissions(&opts.submissions).await?;
    let first_department = submissions.len();
    let runs = staging::stage_all(submissions, &staging, opts).await?;
    let departments =
        registers::stage_all(department_submissions, first_department, &staging, opts).await?;

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
        if let Some(path) = rejects_csv {
            write_rejects_csv(path, &[])?;
        }
        Vec::new()
    } else {
        let checked =
            crosscheck::cross_check(&runs, &changed, current, &warehouse, &staging, opts).await?;
        if let Some(path) = rejects_csv {
            let order: Vec<String> = Table::ALL
                .iter()
                .enumerate()
                .map(|(i, t)| format!("WHEN '{}' THEN {i}", t.file_name()))
                .collect();
            let sql = format!(
                "SELECT province_code, file, line, \"column\", rule_id, severity, message \
                 FROM all_rejects ORDER BY province_code, CASE file {} END, line NULLS FIRST, rule_id",
                order.join(" ")
            );
            let batches = checked.ctx.sql(&sql).await?.collect().await?;
            write_rejects_csv(path, &batches)?;
        }
        checked.findings
    };
    let reports = runs
        .iter()
        .map(|run| checked_report(run, &findings, opts.reject_threshold))
        .collect();
    let mut report =
        IngestReport::new(opts.warehouse.clone(), None, opts.reject_threshold, reports)
            .with_departments(registers::checked_reports(&departments));
    report.validate_only = true;
    Ok(report)
}

/// The rejected and flagged rows as CSV (UTF-8 with a BOM, so that Excel reads the Chinese):
/// where each is (province, file, line, column), the rule, its Chinese description with the
/// value the message quotes, and the ingest's message.
fn write_rejects_csv(path: &Path, batches: &[RecordBatch]) -> Result<(), IngestError> {
    let io = |source: std::io::Error| IngestError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "province_code",
        "file",
        "line",
        "column",
        "rule_id",
        "severity",
        "说明",
        "message",
    ];
    w.write_record(header).map_err(|e| io(e.into()))?;
    for b in batches {
        let cols: Vec<ArrayRef> = b
            .columns()
            .iter()
            .map(|c| arrow::compute::cast(c, &DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(|e| IngestError::Engine(e.into()))?;
        let cols: Vec<&arrow::array::StringArray> = cols
            .iter()
            .filter_map(|c| c.as_string_opt::<i32>())
            .collect();
        for row in 0..b.num_rows() {
            let cell = |i: usize| {
                cols.get(i)
                    .filter(|c| !c.is_null(row))
                    .map_or("", |c| c.value(row))
            };
            let zh = crate::report::quality::message_zh(cell(4), cell(1), cell(3), cell(6));
            w.write_record([
                cell(0),
                cell(1),
                cell(2),
                cell(3),
                cell(4),
                cell(5),
                &zh,
                cell(6),
            ])
            .map_err(|e| io(e.into()))?;
        }
    }
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(w.into_inner().map_err(|e| io(e.into_error()))?);
    std::fs::write(path, bytes).map_err(io)
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
