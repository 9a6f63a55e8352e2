//! Ingest: province submissions and departments' register submissions in, a new warehouse
//! snapshot out.
//!
//! Owns the whole load: finding the submissions, reading each manifest, streaming every file
//! through decoding, the header map and the row rules into local staging: the warehouse's
//! Parquet file of its rows and a narrow file for the checks ([`source`], [`stage`]); the
//! cross-row rules on DataFusion ([`cross`]); putting each changed province's new version
//! into the warehouse and committing the snapshot; and the ingest report ([`report`]).
//!
//! Every row read is either loaded or rejected, per file, and the run checks that balance
//! against the rows actually written before it commits.
//!
//! [`ingest`] runs the phases in order, each in its module: `discover` the submissions,
//! `staging` their files, `decide` which provinces change, `crosscheck` them, `write` their
//! new versions, `commit` the snapshot, and the `summary` report. Register submissions of
//! departments ([`registers`]) go through the same phases beside them.

mod commit;
pub mod cross;
mod crosscheck;
mod decide;
mod discover;
mod registers;
pub mod report;
pub mod source;
pub mod stage;
mod staging;
mod summary;
mod validate;
pub mod validation;
mod write;

pub use validate::validate;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::contract::manifest::Manifest;
use crate::engine::EngineConfig;
use crate::warehouse::{Warehouse, WarehouseError};
use discover::Submission;
use report::IngestReport;
use staging::StagedFile;

/// Default share of rejected rows above which a province must resubmit.
pub const DEFAULT_REJECT_THRESHOLD: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Submission locations: province directories (holding manifest.json) or roots holding
    /// them (directories named by 2-digit province codes, department ids, or a `registers`
    /// directory of department directories); local paths or s3:// URLs.
    pub submissions: Vec<String>,
    pub warehouse: String,
    /// Share of rejected rows above which a province is flagged for resubmission.
    pub reject_threshold: f64,
    pub engine: EngineConfig,
    /// Local directory for staged data and spill files (default: the OS temporary directory).
    pub staging: Option<PathBuf>,
    pub progress: bool,
}

impl IngestOptions {
    pub fn new(submissions: Vec<String>, warehouse: impl Into<String>) -> Self {
        IngestOptions {
            submissions,
            warehouse: warehouse.into(),
            reject_threshold: DEFAULT_REJECT_THRESHOLD,
            engine: EngineConfig::default(),
            staging: None,
            progress: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(
        "no province submission found at {0}: expected a directory holding manifest.json, or directories named by 2-digit province codes (or by department ids for registers, e.g. civil_affairs)"
    )]
    NoSubmission(String),
    #[error(
        "province {province} is given twice ({first} and {second}); ingest one submission per province at a time"
    )]
    DuplicateProvince {
        province: String,
        first: String,
        second: String,
    },
    #[error(
        "department {department} is given twice ({first} and {second}); ingest one register submission per department at a time"
    )]
    DuplicateDepartment {
        department: String,
        first: String,
        second: String,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("staging {path}: {source}")]
    Staging {
        path: String,
        source: parquet::errors::ParquetError,
    },
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    #[error(
        "rows do not balance for {province}/{file}: {read} read, {written} written, {rejected} rejected"
    )]
    Conservation {
        province: String,
        file: String,
        read: u64,
        written: u64,
        rejected: u64,
    },
    #[error("staging directory: {0}")]
    StagingDir(std::io::Error),
    #[error(
        "the same submission directory is given twice ({first} and {second}); give each submission once"
    )]
    SameSubmission { first: String, second: String },
    #[error("--reject-threshold must be a share from 0 to 1 (e.g. 0.05), not {0}")]
    Threshold(f64),
    /// A state the run's own bookkeeping rules out (a bug, reported instead of a panic).
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("a worker failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A province of this run after staging.
struct ProvinceRun {
    submission: Submission,
    manifest: Option<Manifest>,
    problems: Vec<String>,
    files: Vec<StagedFile>,
    content_sha256: String,
}

/// The manifest of a province that passed the manifest checks.
fn manifest_of(run: &ProvinceRun) -> Result<&Manifest, IngestError> {
    run.manifest.as_ref().ok_or(IngestError::Internal(
        "a changed province without a valid manifest",
    ))
}

impl ProvinceRun {
    /// The run's province: its manifest's, else the submission's.
    fn code(&self) -> String {
        self.manifest
            .as_ref()
            .map(|m| m.province_code.clone())
            .unwrap_or_else(|| self.submission.province.clone())
    }
}

/// A phase of the run, timed for the log (`-v`).
struct Phase {
    name: &'static str,
    start: std::time::Instant,
}

impl Phase {
    fn start(name: &'static str) -> Phase {
        Phase {
            name,
            start: std::time::Instant::now(),
        }
    }

    fn done(self) {
        tracing::info!(
            phase = self.name,
            seconds = crate::engine::progress::seconds(self.start),
            "phase done"
        );
    }
}

/// Ingest the submissions into the warehouse.
pub async fn ingest(opts: &IngestOptions) -> Result<IngestReport, IngestError> {
    if !(0.0..=1.0).contains(&opts.reject_threshold) {
        return Err(IngestError::Threshold(opts.reject_threshold));
    }
    let warehouse = Warehouse::open(&opts.warehouse, true)?;
    // Reports of committed snapshots that a failure after their commit left unwritten.
    if let Err(e) = commit::repair_reports(&warehouse, opts).await {
        tracing::warn!("the reports of earlier snapshots could not be rebuilt: {e}");
    }
    let latest = warehouse.latest().await?;
    let current = latest.as_ref().map(|s| &s.provinces);
    let snapshot_id = latest.as_ref().map_or(1, |s| s.id + 1);

    let (submissions, department_submissions) = discover::submissions(&opts.submissions).await?;

    // Private (0700), removed on drop and by `scratch::remove_all` on an interrupt.
    let staging_root =
        crate::engine::scratch::ScratchDir::new(opts.staging.as_deref(), "povcensus-ingest-")
            .map_err(IngestError::StagingDir)?;
    let staging = staging_root.path();
    let first_department = submissions.len();
    let phase = Phase::start("staging");
    let runs = staging::stage_all(submissions, staging, opts).await?;
    let departments =
        registers::stage_all(department_submissions, first_department, staging, opts).await?;
    phase.done();

    let changed = decide::changed(&runs, current)?;
    let current_departments = latest
        .as_ref()
        .map(|s| s.departments.clone())
        .unwrap_or_default();
    let changed_departments = registers::changed(&departments, &current_departments);
    let new_versions = if changed.runs.is_empty() {
        BTreeMap::new()
    } else {
        let phase = Phase::start("cross-row checks");
        let checked =
            crosscheck::cross_check(&runs, &changed, current, &warehouse, staging, opts).await?;
        phase.done();
        let phase = Phase::start("writing");
        let written = write::write_versions(
            &runs,
            &changed,
            &checked,
            current,
            &warehouse,
            snapshot_id,
            opts,
        )
        .await?;
        phase.done();
        written
    };

    let new_departments = registers::write_versions(
        &departments,
        &changed_departments,
        &current_departments,
        &warehouse,
        snapshot_id,
    )
    .await?;

    let committed = commit::commit(
        &warehouse,
        latest.as_ref(),
        snapshot_id,
        &new_versions,
        &new_departments,
    )
    .await?;
    let report = summary::report(opts, &runs, current, &new_versions, committed).with_departments(
        registers::reports(&departments, &current_departments, &new_departments),
    );
    commit::store_report(&warehouse, committed, &report).await;
    Ok(report)
}
