//! Register submissions of departments (`registers.md` §1) through the same phases as the
//! province submissions: their manifest checked, every register file streamed through the
//! shared reader, header map and field validation into staging ([`staging::stage_file`]),
//! which departments change (their content hash), each changed department's new version
//! written (its `register_<file stem>` tables and its rejects), and the report of each.
//!
//! A department's later submission replaces its earlier version as a whole; the earlier stays
//! readable in older snapshots. Registers have no cross-row rules: a register row stands on
//! its own, and a row matching nobody of the census is no fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::contract::manifest::{Encoding, RegisterManifest};
use crate::contract::registers::{Department, Layout, Register};
use crate::contract::rules::Rule;
use crate::ingest::validation::escape_text;
use crate::warehouse::{DataFile, DepartmentVersion, FileCount, Warehouse, rejects_schema};

use super::discover::{Submission, declared_encoding};
use super::report::{DepartmentReport, Status};
use super::staging::{self, FileJob, StagedFile};
use super::{IngestError, IngestOptions};

/// A department's submission after staging.
pub(super) struct DepartmentRun {
    submission: Submission,
    /// The department and manifest, when the manifest is valid.
    manifest: Option<(Department, RegisterManifest)>,
    problems: Vec<String>,
    files: Vec<StagedFile>,
    content_sha256: String,
}

impl DepartmentRun {
    /// The department id: the manifest's, else as the submission names it.
    fn id(&self) -> String {
        match &self.manifest {
            Some((d, _)) => d.id().to_string(),
            None => self.submission.department.clone().unwrap_or_default(),
        }
    }
}

/// The department versions of a snapshot, by department id.
type Versions = BTreeMap<String, DepartmentVersion>;

/// Check a register manifest; the error text explains what is wrong.
fn check_manifest(
    bytes: &[u8],
    dir_name: &str,
) -> Result<(Department, RegisterManifest, Option<Encoding>), String> {
    let m: RegisterManifest = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "manifest.json is not valid: {}",
            escape_text(&e.to_string(), 300)
        )
    })?;
    let ids: Vec<&str> = Department::ALL.iter().map(|d| d.id()).collect();
    let Some(department) = Department::from_id(m.department.trim()) else {
        return Err(format!(
            "department `{}` is not one of the departments that submit registers ({})",
            escape_text(&m.department, 40),
            ids.join(", ")
        ));
    };
    let mut problems = Vec::new();
    if Department::from_id(dir_name).is_some_and(|d| d != department) {
        problems.push(format!(
            "manifest.json names department {department} but the submission directory is \
             {dir_name}"
        ));
    }
    if m.submission_id.trim().is_empty() {
        problems.push("submission_id is empty".to_string());
    }
    let encoding = declared_encoding(m.encoding.as_ref(), &mut problems);
    let files: Vec<&str> = department.registers().map(Register::file_name).collect();
    for name in m.files.keys() {
        if !files.contains(&name.as_str()) {
            problems.push(format!(
                "manifest lists `{}`, which is not a register file of department {department} \
                 (its files: {})",
                escape_text(name, 100),
                files.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok((department, m, encoding))
    } else {
        Err(problems.join("; "))
    }
}

/// Stage every register file of the department submissions (`si` numbers them after the
/// province submissions, so staging files never collide).
pub(super) async fn stage_all(
    submissions: Vec<Submission>,
    first_index: usize,
    staging: &Path,
    opts: &IngestOptions,
) -> Result<Vec<DepartmentRun>, IngestError> {
    let bar = crate::engine::progress::bar(
        opts.progress && !submissions.is_empty(),
        0,
        "{spinner} reading and validating registers {bytes} {bytes_per_sec}",
    );
    let mut runs = Vec::new();
    for (k, s) in submissions.into_iter().enumerate() {
        runs.push(stage_department(s, first_index + k, staging, opts, &bar).await?);
    }
    bar.finish_and_clear();
    Ok(runs)
}

/// Stage one department's submission: its manifest, then its register files, a few at a
/// time. Without a valid manifest nothing is read.
async fn stage_department(
    s: Submission,
    si: usize,
    staging: &Path,
    opts: &IngestOptions,
    bar: &indicatif::ProgressBar,
) -> Result<DepartmentRun, IngestError> {
    let checked = match s.manifest.as_deref() {
        None => Err("manifest.json is missing".to_string()),
        Some(b) => check_manifest(b, &s.dir_name),
    };
    let (department, manifest, declared) = match checked {
        Ok(c) => c,
        Err(why) => {
            return Ok(DepartmentRun {
                problems: vec![format!("{why} ({})", Rule::ManifestInvalid)],
                submission: s,
                manifest: None,
                files: Vec::new(),
                content_sha256: String::new(),
            });
        }
    };
    let mut jobs = Vec::new();
    for r in department.registers() {
        let listed = manifest.files.get(r.file_name()).cloned();
        let Some(input) = staging::open_input(&s, r.file_name(), listed.is_some(), bar).await?
        else {
            continue;
        };
        let job = FileJob {
            table: Layout::Register(r),
            province: String::new(),
            submission_id: manifest.submission_id.clone(),
            declared,
            expected: listed,
            stem: staging.join(format!("s{si:04}")),
            display: s.location.display.clone(),
        };
        jobs.push(tokio::task::spawn_blocking(move || {
            staging::stage_file(input, &job)
        }));
    }
    let mut files = Vec::new();
    let mut staged = futures::stream::iter(jobs).buffered(opts.engine.threads.max(1));
    while let Some(f) = staged.next().await {
        files.push(f??);
    }
    drop(staged);
    let mut problems = Vec::new();
    if files.is_empty() {
        let names: Vec<&str> = department.registers().map(Register::file_name).collect();
        problems.push(format!(
            "the submission holds none of the register files of department {department} ({}) \
             ({})",
            names.join(", "),
            Rule::FileMissing
        ));
    }
    let content_sha256 = content_hash(s.manifest.as_deref().unwrap_or_default(), &files);
    Ok(DepartmentRun {
        submission: s,
        manifest: Some((department, manifest)),
        problems,
        files,
        content_sha256,
    })
}

/// The content hash of a department's submission: its manifest and its files' hashes.
fn content_hash(manifest: &[u8], files: &[StagedFile]) -> String {
    let mut h = Sha256::new();
    h.update(manifest);
    for f in files {
        h.update(f.count.file.as_bytes());
        h.update(f.sha256.as_deref().unwrap_or("absent").as_bytes());
    }
    hex::encode(h.finalize())
}

/// The current version of the run's department when the run's content is that version's.
fn unchanged_version<'c>(
    run: &DepartmentRun,
    current: &'c Versions,
) -> Option<&'c DepartmentVersion> {
    current
        .get(&run.id())
        .filter(|v| v.content_sha256 == run.content_sha256)
}

/// The decide phase of registers: the runs that change the warehouse (a valid manifest,
/// at least one register file, and content that differs from the current version).
pub(super) fn changed(runs: &[DepartmentRun], current: &Versions) -> Vec<usize> {
    (0..runs.len())
        .filter(|&i| {
            let run = &runs[i];
            run.manifest.is_some()
                && !run.files.is_empty()
                && unchanged_version(run, current).is_none()
        })
        .collect()
}

/// The write phase of registers: each changed department's new version (every register table
/// of the department, empty when its file is absent or rejected, and its rejects), committed
/// in snapshot `snapshot_id`.
pub(super) async fn write_versions(
    runs: &[DepartmentRun],
    changed: &[usize],
    current: &Versions,
    warehouse: &Warehouse,
    snapshot_id: u64,
) -> Result<Versions, IngestError> {
    let mut out = BTreeMap::new();
    for &i in changed {
        let run = &runs[i];
        let Some((department, manifest)) = &run.manifest else {
            return Err(IngestError::Internal(
                "a changed department without a manifest",
            ));
        };
        let id = department.id();
        let version = current.get(id).map_or(1, |v| v.version + 1);
        let hash = run.content_sha256.get(..12).unwrap_or(&run.content_sha256);
        let dir = format!("department={id}/v={version}-{hash}");
        let mut tables = BTreeMap::new();
        let mut files = Vec::new();
        let mut rules: BTreeMap<String, u64> = BTreeMap::new();
        for r in department.registers() {
            let staged = run.files.iter().find(|f| f.table == Layout::Register(r));
            let rel = format!("data/{}/{dir}/part-0.parquet", r.table_name());
            let written = match staged.and_then(|f| f.data.as_deref()) {
                // The staged file is the warehouse's file: registers have no cross-row rules.
                Some(data) => warehouse.put_parquet(&rel, data).await?,
                None => {
                    let empty = futures::stream::empty();
                    warehouse
                        .write_parquet(&rel, r.arrow_schema(), empty)
                        .await?
                }
            };
            tables.insert(
                r.table_name().to_string(),
                DataFile {
                    path: rel,
                    rows: written,
                },
            );
            if let Some(f) = staged {
                files.push(balanced(id, f, written)?);
                for (rule, n) in &f.rule_counts {
                    *rules.entry(rule.clone()).or_default() += n;
                }
            }
        }
        let rejects_rel = format!("register_rejects/{dir}/part-0.parquet");
        let rejects_files = run.files.iter().map(|f| f.rejects.as_path());
        let rejected = copy(warehouse, &rejects_rel, rejects_schema(), rejects_files).await?;
        out.insert(
            id.to_string(),
            DepartmentVersion {
                department: id.to_string(),
                version,
                submission_id: manifest.submission_id.clone(),
                content_sha256: run.content_sha256.clone(),
                committed_in: snapshot_id,
                tables,
                rejects: DataFile {
                    path: rejects_rel,
                    rows: rejected,
                },
                files,
                rules,
            },
        );
    }
    Ok(out)
}

/// A staged register file's counts, checked against the rows written: every row read is
/// loaded or rejected.
fn balanced(department: &str, f: &StagedFile, written: u64) -> Result<FileCount, IngestError> {
    let c = f.count.clone();
    if c.rows_read != written + c.rows_rejected || c.rows_loaded != written {
        return Err(IngestError::Conservation {
            province: format!("department {department}"),
            file: c.file.clone(),
            read: c.rows_read,
            written,
            rejected: c.rows_rejected,
        });
    }
    Ok(c)
}

/// Write the staged Parquet files (of `schema`: a department's rejects files) one after the
/// other as one warehouse file. Returns the rows written.
async fn copy<'p>(
    warehouse: &Warehouse,
    rel: &str,
    schema: arrow::datatypes::SchemaRef,
    staged: impl IntoIterator<Item = &'p Path>,
) -> Result<u64, IngestError> {
    let paths: Vec<PathBuf> = staged.into_iter().map(Path::to_path_buf).collect();
    let batches = futures::stream::iter(paths)
        .then(move |p| async move {
            let file = tokio::fs::File::open(&p)
                .await
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            let batches = parquet::arrow::ParquetRecordBatchStreamBuilder::new(file)
                .await?
                .with_batch_size(32 * 1024)
                .build()?
                .map(|b| b.map_err(datafusion::error::DataFusionError::from))
                .boxed();
            Ok::<_, datafusion::error::DataFusionError>(batches)
        })
        .flat_map(|r| match r {
            Ok(s) => s,
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        });
    Ok(warehouse
        .write_parquet(rel, schema, Box::pin(batches))
        .await?)
}

/// The report of every department of the run: loaded (its new version), unchanged, or
/// rejected (no valid manifest, or no register file), with the problems found.
pub(super) fn reports(
    runs: &[DepartmentRun],
    current: &Versions,
    new_versions: &Versions,
) -> Vec<DepartmentReport> {
    runs.iter()
        .map(|run| {
            let id = run.id();
            let mut problems = run.problems.clone();
            for f in &run.files {
                problems.extend(f.problems.iter().cloned());
            }
            let source = run.submission.location.display.clone();
            if let Some(v) = new_versions.get(&id) {
                department_report(v, source, Status::Loaded, problems)
            } else if let Some(v) = unchanged_version(run, current) {
                department_report(v, source, Status::Unchanged, problems)
            } else {
                rejected_report(run, id, source, problems)
            }
        })
        .collect()
}

/// The reports of `povcensus validate`: every department checked as ingest would check it,
/// nothing written (status `Checked`; a submission without a valid manifest is rejected).
pub(super) fn checked_reports(runs: &[DepartmentRun]) -> Vec<DepartmentReport> {
    runs.iter()
        .map(|run| {
            let source = run.submission.location.display.clone();
            let mut problems = run.problems.clone();
            for f in &run.files {
                problems.extend(f.problems.iter().cloned());
            }
            let Some((_, m)) = &run.manifest else {
                return rejected_report(run, run.id(), source, problems);
            };
            let mut rules = BTreeMap::new();
            for f in &run.files {
                for (r, n) in &f.rule_counts {
                    *rules.entry(r.clone()).or_insert(0) += n;
                }
            }
            let files = run.files.iter().map(|f| f.count.clone()).collect();
            DepartmentReport::new(
                run.id(),
                source,
                Some(m.submission_id.clone()),
                Status::Checked,
                None,
                files,
                rules,
                problems,
            )
        })
        .collect()
}

/// The report of a department version (loaded now, or unchanged).
pub(super) fn department_report(
    v: &DepartmentVersion,
    source: String,
    status: Status,
    problems: Vec<String>,
) -> DepartmentReport {
    DepartmentReport::new(
        v.department.clone(),
        source,
        Some(v.submission_id.clone()),
        status,
        Some(v.version),
        v.files.clone(),
        v.rules.clone(),
        problems,
    )
}

/// The report of a department submission that loads nothing.
fn rejected_report(
    run: &DepartmentRun,
    id: String,
    source: String,
    problems: Vec<String>,
) -> DepartmentReport {
    let files = super::summary::rejected_files(&run.files);
    let rule = if run.manifest.is_none() {
        Rule::ManifestInvalid
    } else {
        Rule::FileMissing
    };
    let rules = BTreeMap::from([(rule.id().to_string(), 1)]);
    DepartmentReport::new(
        id,
        source,
        None,
        Status::Rejected,
        None,
        files,
        rules,
        problems,
    )
}
