//! Ingest: province submissions in, a new warehouse snapshot out.
//!
//! Owns the whole load: finding the submissions, reading each manifest, streaming every file
//! through decoding, the header map and the row rules into local staging ([`source`],
//! [`stage`]), the cross-row rules on DataFusion ([`cross`]), writing each changed province's
//! new version to the warehouse and committing the snapshot, and the ingest report
//! ([`report`]).
//!
//! Every row read is either loaded or rejected, per file, and the run checks that balance
//! against the rows actually written before it commits.

pub mod cross;
pub mod report;
pub mod source;
pub mod stage;
pub mod validation;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

use crate::contract::manifest::{Encoding, Manifest};
use crate::contract::rules::{Rule, Severity};
use crate::contract::schema::{Table, arrow_schema};
use crate::engine::{EngineConfig, session};
use crate::warehouse::{
    DataFile, FileCount, Location, ProvinceVersion, Snapshot, Warehouse, WarehouseError,
};
use cross::{CrossFinding, CrossInput};
use report::{IngestReport, ProvinceReport, Status};
use stage::{RejectRow, RejectsWriter, StagedWriter};

/// Default share of rejected rows above which a province must resubmit.
pub const DEFAULT_REJECT_THRESHOLD: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Submission locations: province directories (holding manifest.json) or roots holding
    /// them (directories named by 2-digit province codes); local paths or s3:// URLs.
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
        "no province submission found at {0}: expected a directory holding manifest.json, or directories named by 2-digit province codes"
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

/// One province submission found on the command line.
struct Submission {
    /// The province it is for: the manifest's `province_code` when it names one of the
    /// census provinces, else the directory's name (whatever the directory is called, one
    /// province is one submission).
    province: String,
    /// The name of its directory (a 2-digit code when found under a root directory).
    dir_name: String,
    location: Location,
    /// Where it really is (a canonical local path, or the store URL and prefix): the same
    /// directory given twice is refused.
    identity: String,
    /// The bytes of manifest.json (None when absent).
    manifest: Option<bytes::Bytes>,
}

async fn discover(arg: &str) -> Result<Vec<Location>, IngestError> {
    let loc = Location::parse(arg, false)?;
    if loc.exists("manifest.json").await? {
        return Ok(vec![loc]);
    }
    let mut out = Vec::new();
    for d in loc.list_dirs("").await? {
        if d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()) {
            let mut sub = loc.clone();
            sub.prefix = loc.path(&d);
            sub.display = format!("{}/{d}", arg.trim_end_matches('/'));
            out.push(sub);
        }
    }
    if out.is_empty() {
        return Err(IngestError::NoSubmission(arg.to_string()));
    }
    Ok(out)
}

/// The canonical local directory of a location on the local file system.
fn local_dir(loc: &Location) -> Option<PathBuf> {
    (loc.store_url.scheme() == "file").then(|| {
        let p = PathBuf::from(format!("/{}", loc.prefix));
        std::fs::canonicalize(&p).unwrap_or(p)
    })
}

/// Read the manifests of the located submissions and name each by its province; refuse the
/// same directory twice and two submissions of one province, before any file is read.
async fn resolve(locations: Vec<Location>) -> Result<Vec<Submission>, IngestError> {
    let mut out: Vec<Submission> = Vec::new();
    for location in locations {
        let identity = match local_dir(&location) {
            Some(p) => p.display().to_string(),
            None => location.url_of(&location.prefix),
        };
        if let Some(prev) = out.iter().find(|p| p.identity == identity) {
            return Err(IngestError::SameSubmission {
                first: prev.location.display.clone(),
                second: location.display.clone(),
            });
        }
        let manifest = match location.get_bytes("manifest.json").await {
            Ok(b) => Some(b),
            Err(WarehouseError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => None,
            Err(e) => return Err(e.into()),
        };
        let dir_name = location.prefix.filename().unwrap_or_default().to_string();
        let is_code = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        let named = manifest
            .as_deref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("province_code")?.as_str().map(str::to_string))
            .filter(|p| {
                is_code(p)
                    && crate::contract::reference::Reference::get()
                        .province(p)
                        .is_some()
            });
        let province = named.unwrap_or_else(|| {
            if is_code(&dir_name) {
                dir_name.clone()
            } else {
                location.display.clone()
            }
        });
        if let Some(prev) = out.iter().find(|p| p.province == province) {
            return Err(IngestError::DuplicateProvince {
                province,
                first: prev.location.display.clone(),
                second: location.display.clone(),
            });
        }
        out.push(Submission {
            province,
            dir_name,
            location,
            identity,
            manifest,
        });
    }
    Ok(out)
}

/// Parse and check a manifest; the error text explains what is wrong.
fn check_manifest(bytes: &[u8], dir_name: &str) -> Result<(Manifest, Option<Encoding>), String> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "manifest.json is not valid: {}",
            crate::ingest::validation::escape_text(&e.to_string(), 300)
        )
    })?;
    let mut problems = Vec::new();
    let is_code = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !is_code(&m.province_code) {
        problems.push(format!(
            "province_code `{}` is not a 2-digit code",
            crate::ingest::validation::escape_text(&m.province_code, 40)
        ));
    } else if crate::contract::reference::Reference::get()
        .province(&m.province_code)
        .is_none()
    {
        problems.push(format!(
            "province {} is not one of the 22 census provinces",
            m.province_code
        ));
    }
    if is_code(dir_name) && dir_name != m.province_code {
        problems.push(format!(
            "manifest.json names province {} but the submission directory is {dir_name}",
            m.province_code
        ));
    }
    if m.submission_id.trim().is_empty() {
        problems.push("submission_id is empty".to_string());
    }
    let encoding = match m
        .encoding
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => None,
        Some("utf-8" | "utf8") => Some(Encoding::Utf8),
        Some("gb18030" | "gbk" | "gb2312") => Some(Encoding::Gb18030),
        Some(other) => {
            problems.push(format!(
                "encoding `{}` is not utf-8 or gb18030",
                crate::ingest::validation::escape_text(other, 40)
            ));
            None
        }
    };
    for name in m.files.keys() {
        if Table::from_file_name(name).is_none() {
            problems.push(format!(
                "manifest lists `{}`, which is not a file of the submission format",
                crate::ingest::validation::escape_text(name, 100)
            ));
        }
    }
    if problems.is_empty() {
        Ok((m, encoding))
    } else {
        Err(problems.join("; "))
    }
}

/// The outcome of staging one file.
struct StagedFile {
    table: Table,
    data: Option<PathBuf>,
    rejects: PathBuf,
    count: FileCount,
    sha256: Option<String>,
    problems: Vec<String>,
    rule_counts: BTreeMap<String, u64>,
}

/// Stream one file through the reader and row rules into staging. Runs on a blocking thread.
#[allow(clippy::too_many_arguments)]
fn stage_file(
    input: Input,
    table: Table,
    province: &str,
    submission_id: &str,
    declared: Option<Encoding>,
    expected: Option<crate::contract::manifest::ManifestFile>,
    stem: &Path,
    display: &str,
) -> Result<StagedFile, IngestError> {
    let file = table.file_name();
    let data_path = stem.with_extension(format!("{}.parquet", table.name()));
    let rejects_path = stem.with_extension(format!("{}.rejects.parquet", table.name()));
    let staging_err = |p: &Path| {
        let p = p.display().to_string();
        move |source| IngestError::Staging { path: p, source }
    };
    let mut rejects = RejectsWriter::create(rejects_path.clone(), submission_id, province, file)
        .map_err(staging_err(&rejects_path))?;
    let mut rule_counts: BTreeMap<String, u64> = BTreeMap::new();
    let outside = matches!(input, Input::Outside);
    let input = match input {
        Input::Present(r) => Some(r),
        Input::Missing | Input::Outside => None,
    };
    let Some(input) = input else {
        // A required file that is absent, or a link leaving the submission that is not read:
        // nothing of it loads (its children are orphans).
        let (rule, message) = if outside {
            (
                Rule::FileOutside,
                format!(
                    "{file} does not resolve to a file inside the submission directory (a link \
                     leaving it, a link loop, or not a regular file); it is not read"
                ),
            )
        } else {
            (
                Rule::FileMissing,
                format!("{file} is missing from the submission"),
            )
        };
        rejects
            .push(RejectRow {
                line: None,
                record_key: None,
                rule,
                column: None,
                message: message.clone(),
            })
            .map_err(staging_err(&rejects_path))?;
        rejects.finish().map_err(staging_err(&rejects_path))?;
        rule_counts.insert(rule.id().to_string(), 1);
        return Ok(StagedFile {
            table,
            data: None,
            rejects: rejects_path,
            count: FileCount {
                file: file.to_string(),
                encoding: None,
                rows_read: 0,
                rows_loaded: 0,
                rows_rejected: 0,
                rows_flagged: 0,
                file_rejected: true,
            },
            sha256: None,
            problems: vec![message],
            rule_counts,
        });
    };
    let mut writer = StagedWriter::create(data_path.clone(), table, province)
        .map_err(staging_err(&data_path))?;
    let mut rejected_rows = 0u64;
    let mut failure: Option<parquet::errors::ParquetError> = None;
    let mut row_rules: BTreeMap<String, u64> = BTreeMap::new();
    let check = source::read_table(input, table, province, declared, expected.as_ref(), |ev| {
        if failure.is_some() {
            return;
        }
        let rejected = ev.rejected();
        if rejected {
            rejected_rows += ev.rows;
        } else if let Err(e) = writer.append(ev.line, ev.values) {
            failure = Some(e);
        }
        let key = if ev.findings.is_empty() {
            None
        } else {
            ev.key()
        };
        for f in &ev.findings {
            *row_rules.entry(f.rule.id().to_string()).or_default() += 1;
            if let Err(e) = rejects.push(RejectRow::from_finding(Some(ev.line), key.clone(), f)) {
                failure = Some(e);
            }
        }
    })
    .map_err(|source| IngestError::Read {
        path: format!("{display}/{file}"),
        source,
    })?;
    if let Some(e) = failure {
        return Err(IngestError::Staging {
            path: data_path.display().to_string(),
            source: e,
        });
    }
    let (_, staged_rows) = writer.finish().map_err(staging_err(&data_path))?;
    let file_rejected = check.rejected();
    let mut problems = Vec::new();
    let data = if file_rejected {
        // The whole file is rejected: its rows are not loaded, and only the file-level
        // findings are reported.
        stage::remove(&data_path);
        drop(rejects);
        rejects = RejectsWriter::create(rejects_path.clone(), submission_id, province, file)
            .map_err(staging_err(&rejects_path))?;
        row_rules.clear();
        None
    } else {
        Some(data_path)
    };
    for f in &check.findings {
        let line = (f.rule == Rule::FileUnknownColumn).then_some(1);
        rejects
            .push(RejectRow::from_finding(line, None, f))
            .map_err(staging_err(&rejects_path))?;
        *rule_counts.entry(f.rule.id().to_string()).or_default() += 1;
        if f.severity() == Severity::Error {
            problems.push(format!("{file}: {} ({})", f.message, f.rule));
        }
    }
    rejects.finish().map_err(staging_err(&rejects_path))?;
    for (r, n) in row_rules {
        *rule_counts.entry(r).or_default() += n;
    }
    let rows_rejected = if file_rejected {
        check.rows_read
    } else {
        rejected_rows
    };
    debug_assert!(file_rejected || staged_rows + rejected_rows == check.rows_read);
    Ok(StagedFile {
        table,
        data,
        rejects: rejects_path,
        count: FileCount {
            file: file.to_string(),
            encoding: Some(check.encoding.label().to_string()),
            rows_read: check.rows_read,
            rows_loaded: check.rows_read.saturating_sub(rows_rejected),
            rows_rejected,
            rows_flagged: 0,
            file_rejected,
        },
        sha256: Some(check.sha256),
        problems,
        rule_counts,
    })
}

/// A file of a submission, as staging sees it.
enum Input {
    /// A reader over its bytes, for a blocking thread.
    Present(Box<dyn Read + Send>),
    /// Absent.
    Missing,
    /// A link that resolves outside the submission directory: not read.
    Outside,
}

/// Open a file of a submission. A local file that resolves (through links) outside the
/// submission directory is not opened.
async fn open_reader(loc: &Location, rel: &str) -> Result<Input, IngestError> {
    let path = loc.path(rel);
    if let Some(dir) = local_dir(loc) {
        let fs_path = PathBuf::from(format!("/{path}"));
        let read_err = |source| IngestError::Read {
            path: fs_path.display().to_string(),
            source,
        };
        let real = match std::fs::canonicalize(&fs_path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Input::Missing),
            // A link loop and the like: it does not resolve to a file of the submission.
            Err(_) => return Ok(Input::Outside),
        };
        if !real.starts_with(&dir) || !real.is_file() {
            return Ok(Input::Outside);
        }
        let f = std::fs::File::open(&real).map_err(read_err)?;
        return Ok(Input::Present(Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            f,
        ))));
    }
    let get = loc.store.get(&path).await.map_err(|e| {
        IngestError::Warehouse(WarehouseError::Store {
            path: path.to_string(),
            source: e,
        })
    })?;
    let stream = get.into_stream().map(|r| r.map_err(std::io::Error::other));
    let reader = tokio_util::io::StreamReader::new(stream);
    Ok(Input::Present(Box::new(tokio_util::io::SyncIoBridge::new(
        reader,
    ))))
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

/// Ingest the submissions into the warehouse.
pub async fn ingest(opts: &IngestOptions) -> Result<IngestReport, IngestError> {
    if !(0.0..=1.0).contains(&opts.reject_threshold) {
        return Err(IngestError::Threshold(opts.reject_threshold));
    }
    let warehouse = Warehouse::open(&opts.warehouse, true)?;
    // Reports of committed snapshots that a failure after their commit left unwritten.
    if let Err(e) = repair_reports(&warehouse, opts).await {
        tracing::warn!("the reports of earlier snapshots could not be rebuilt: {e}");
    }
    let latest = warehouse.latest().await?;

    // Find the submissions and name each by its manifest's province; one per province.
    let mut locations = Vec::new();
    for arg in &opts.submissions {
        locations.extend(discover(arg).await?);
    }
    let mut submissions = resolve(locations).await?;
    submissions.sort_by(|a, b| a.province.cmp(&b.province));

    // Private (0700), removed on drop and by `scratch::remove_all` on an interrupt.
    let staging_root =
        crate::engine::scratch::ScratchDir::new(opts.staging.as_deref(), "povcensus-ingest-")
            .map_err(IngestError::StagingDir)?;
    let staging = staging_root.path().to_path_buf();

    // Stage every file, a few at a time.
    let total_bytes = {
        let mut total = 0u64;
        for s in &submissions {
            for t in Table::ALL {
                if let Ok(meta) = s.location.store.head(&s.location.path(t.file_name())).await {
                    total += meta.size;
                }
            }
        }
        total
    };
    let bar = crate::engine::progress::bar(
        opts.progress,
        total_bytes,
        "{spinner} reading and validating [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
    );
    let mut runs: Vec<ProvinceRun> = Vec::new();
    let mut jobs = Vec::new();
    for (si, s) in submissions.into_iter().enumerate() {
        let mut hasher = Sha256::new();
        let (manifest, declared, problems) = match s
            .manifest
            .as_deref()
            .map(|b| (b, check_manifest(b, &s.dir_name)))
        {
            None => (
                None,
                None,
                vec![format!(
                    "manifest.json is missing ({})",
                    Rule::ManifestInvalid
                )],
            ),
            Some((b, Ok((m, enc)))) => {
                hasher.update(b);
                (Some(m), enc, Vec::new())
            }
            Some((_, Err(why))) => (
                None,
                None,
                vec![format!("{why} ({})", Rule::ManifestInvalid)],
            ),
        };
        let submission_id = manifest
            .as_ref()
            .map(|m| m.submission_id.clone())
            .unwrap_or_default();
        let province = manifest
            .as_ref()
            .map(|m| m.province_code.clone())
            .unwrap_or_else(|| s.province.clone());
        for t in Table::ALL {
            let present = match local_dir(&s.location) {
                // A link counts as present even when it does not resolve (it is a finding).
                Some(_) => {
                    std::fs::symlink_metadata(format!("/{}", s.location.path(t.file_name())))
                        .is_ok()
                }
                None => s.location.exists(t.file_name()).await?,
            };
            // Absent optional files are skipped; an absent required file is a finding.
            if !(present || manifest.is_some() && t.required()) {
                continue;
            }
            let input = if present {
                open_reader(&s.location, t.file_name()).await?
            } else {
                Input::Missing
            };
            let input = match input {
                Input::Present(r) => Input::Present(Box::new(CountingReader {
                    inner: r,
                    bar: bar.clone(),
                })),
                other => other,
            };
            let expected = manifest
                .as_ref()
                .and_then(|m| m.files.get(t.file_name()).cloned());
            // Staging files are named by the submission's index: two inputs never share one.
            let stem = format!("s{si:04}");
            let (province, submission_id, staging, display) = (
                province.clone(),
                submission_id.clone(),
                staging.clone(),
                s.location.display.clone(),
            );
            let validate_as = if manifest.is_some() {
                Some(declared)
            } else {
                None
            };
            jobs.push(async move {
                let result = tokio::task::spawn_blocking(move || {
                    let declared = validate_as.flatten();
                    stage_file(
                        input,
                        t,
                        &province,
                        &submission_id,
                        declared,
                        expected,
                        &staging.join(stem),
                        &display,
                    )
                })
                .await;
                (si, result)
            });
        }
        runs.push(ProvinceRun {
            submission: s,
            manifest,
            problems,
            files: Vec::new(),
            // The hasher continues with the files' hashes below.
            content_sha256: hex::encode(hasher.finalize()),
        });
    }
    let parallel = opts.engine.threads.max(1);
    let mut staged = futures::stream::iter(jobs).buffer_unordered(parallel);
    while let Some((si, result)) = staged.next().await {
        let file = result??;
        runs.get_mut(si)
            .ok_or(IngestError::Internal(
                "a staged file of an unknown submission",
            ))?
            .files
            .push(file);
    }
    drop(staged);
    bar.finish_and_clear();
    for run in &mut runs {
        run.files.sort_by_key(|f| f.table);
        let mut h = Sha256::new();
        h.update(run.content_sha256.as_bytes());
        for f in &run.files {
            h.update(f.count.file.as_bytes());
            h.update(f.sha256.as_deref().unwrap_or("absent").as_bytes());
        }
        run.content_sha256 = hex::encode(h.finalize());
    }

    // Which provinces change the warehouse.
    let current = latest.as_ref().map(|s| &s.provinces);
    let is_unchanged = |run: &ProvinceRun| -> bool {
        let code = run
            .manifest
            .as_ref()
            .map(|m| m.province_code.as_str())
            .unwrap_or(&run.submission.province);
        current
            .and_then(|c| c.get(code))
            .is_some_and(|v| v.content_sha256 == run.content_sha256)
    };
    let changed: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].manifest.is_some() && !is_unchanged(&runs[i]))
        .collect();
    let changed_codes: BTreeSet<String> = changed
        .iter()
        .map(|&i| manifest_of(&runs[i]).map(|m| m.province_code.clone()))
        .collect::<Result<_, _>>()?;

    let mut reports: Vec<ProvinceReport> = Vec::new();
    let mut new_versions: BTreeMap<String, ProvinceVersion> = BTreeMap::new();
    let snapshot_id = latest.as_ref().map_or(1, |s| s.id + 1);

    if !changed.is_empty() {
        let staged_rows: u64 = changed
            .iter()
            .flat_map(|&i| &runs[i].files)
            .filter(|f| f.table == Table::Persons)
            .map(|f| f.count.rows_read)
            .sum();
        let engine = EngineConfig {
            spill_dir: Some(staging.clone()),
            ..opts.engine.clone()
        }
        .for_rows(staged_rows);
        let ctx = session(&engine)?;
        let mut staged_files: BTreeMap<Table, Vec<PathBuf>> = BTreeMap::new();
        for &i in &changed {
            for f in &runs[i].files {
                if let Some(d) = &f.data {
                    staged_files.entry(f.table).or_default().push(d.clone());
                }
            }
        }
        let mut existing: BTreeMap<Table, Vec<DataFile>> = BTreeMap::new();
        if let Some(c) = current {
            for (code, v) in c {
                if !changed_codes.contains(code) {
                    for t in Table::ALL {
                        if let Some(f) = v.tables.get(t.name()) {
                            existing.entry(t).or_default().push(f.clone());
                        }
                    }
                }
            }
        }
        let findings = cross::check(
            &ctx,
            &CrossInput {
                staged: &staged_files,
                warehouse: &warehouse,
                existing: &existing,
            },
        )
        .await?;
        register_staged_rejects(&ctx, &runs, &changed, &findings)?;

        // Each changed province's new version directory.
        let version_dir = |i: usize| -> Result<(String, u32, String), IngestError> {
            let run = &runs[i];
            let code = manifest_of(run)?.province_code.clone();
            let version = current
                .and_then(|c| c.get(&code))
                .map_or(1, |v| v.version + 1);
            let hash = run.content_sha256.get(..12).unwrap_or(&run.content_sha256);
            Ok((code, version, format!("v={version}-{hash}")))
        };
        // Write every table of every changed province: CPU-bound (zstd), so as tasks, at most
        // `threads` at a time (each holds a row group in memory).
        let permits = Arc::new(tokio::sync::Semaphore::new(opts.engine.threads.max(1)));
        let mut writes: BTreeMap<
            (String, Table),
            tokio::task::JoinHandle<Result<u64, IngestError>>,
        > = BTreeMap::new();
        for &i in &changed {
            let (code, _, dir) = version_dir(i)?;
            for t in Table::ALL {
                let rel = format!("data/{}/province={code}/{dir}/part-0.parquet", t.name());
                let staged = runs[i]
                    .files
                    .iter()
                    .find(|f| f.table == t)
                    .and_then(|f| f.data.clone());
                let rejected_lines: HashSet<u64> = findings
                    .iter()
                    .filter(|f| {
                        f.province == code && f.table == t && f.rule.severity() == Severity::Error
                    })
                    .map(|f| f.line)
                    .collect();
                let (wh, permits) = (warehouse.clone(), Arc::clone(&permits));
                writes.insert(
                    (code.clone(), t),
                    tokio::spawn(async move {
                        // The semaphore is never closed; without a permit the write still runs.
                        let _permit = permits.acquire_owned().await.ok();
                        write_table(&wh, &rel, t, staged.as_deref(), &rejected_lines).await
                    }),
                );
            }
        }

        for &i in &changed {
            let run = &runs[i];
            let manifest = manifest_of(run)?;
            let (code, version, dir) = version_dir(i)?;
            let mine: Vec<&CrossFinding> = findings.iter().filter(|f| f.province == code).collect();
            let mut tables = BTreeMap::new();
            let mut files = Vec::new();
            let mut rules: BTreeMap<String, u64> = BTreeMap::new();
            for f in &run.files {
                for (r, n) in &f.rule_counts {
                    *rules.entry(r.clone()).or_default() += n;
                }
            }
            for f in &mine {
                *rules.entry(f.rule.id().to_string()).or_default() += 1;
            }
            for t in Table::ALL {
                let rel = format!("data/{}/province={code}/{dir}/part-0.parquet", t.name());
                let staged = run.files.iter().find(|f| f.table == t);
                let rejected_lines = mine
                    .iter()
                    .filter(|f| f.table == t && f.rule.severity() == Severity::Error)
                    .map(|f| f.line)
                    .collect::<HashSet<u64>>()
                    .len() as u64;
                let flagged_lines: HashSet<u64> = mine
                    .iter()
                    .filter(|f| f.table == t && f.rule.severity() == Severity::Warning)
                    .map(|f| f.line)
                    .collect();
                let written = writes
                    .remove(&(code.clone(), t))
                    .ok_or(IngestError::Internal("a province's table was not written"))?
                    .await??;
                tables.insert(
                    t.name().to_string(),
                    DataFile {
                        path: rel,
                        rows: written,
                    },
                );
                if let Some(sf) = staged {
                    let mut c = sf.count.clone();
                    c.rows_rejected += rejected_lines;
                    c.rows_flagged = flagged_lines.len() as u64;
                    let loaded = c.rows_read.checked_sub(c.rows_rejected);
                    c.rows_loaded = loaded.unwrap_or(0);
                    if loaded != Some(written) {
                        return Err(IngestError::Conservation {
                            province: code.clone(),
                            file: c.file.clone(),
                            read: c.rows_read,
                            written,
                            rejected: c.rows_rejected,
                        });
                    }
                    files.push(c);
                }
            }
            let rejects_rel = format!("rejects/province={code}/{dir}/part-0.parquet");
            let rejects_rows = write_rejects(&ctx, &warehouse, &rejects_rel, &code).await?;
            let read: u64 = files.iter().map(|f| f.rows_read).sum();
            let rejected: u64 = files.iter().map(|f| f.rows_rejected).sum();
            let share = if read == 0 {
                0.0
            } else {
                rejected as f64 / read as f64
            };
            let version_record = ProvinceVersion {
                province_code: code.clone(),
                version,
                submission_id: manifest.submission_id.clone(),
                content_sha256: run.content_sha256.clone(),
                committed_in: snapshot_id,
                tables,
                rejects: DataFile {
                    path: rejects_rel,
                    rows: rejects_rows,
                },
                files,
                rules,
                rejected_share: share,
                resubmission_required: share > opts.reject_threshold,
            };
            new_versions.insert(code, version_record);
        }
    }

    // Commit.
    let committed = if new_versions.is_empty() {
        None
    } else {
        let mut provinces = latest
            .as_ref()
            .map(|s| s.provinces.clone())
            .unwrap_or_default();
        provinces.extend(new_versions.clone());
        let snapshot = Snapshot {
            id: snapshot_id,
            parent: latest.as_ref().map(|s| s.id),
            provinces,
        };
        failpoint("before-commit");
        warehouse.commit(&snapshot).await?;
        tracing::info!(
            snapshot = snapshot_id,
            provinces = new_versions.len(),
            "committed"
        );
        Some(snapshot_id)
    };

    for run in &runs {
        let code = run
            .manifest
            .as_ref()
            .map(|m| m.province_code.clone())
            .unwrap_or_else(|| run.submission.province.clone());
        let mut problems = run.problems.clone();
        for f in &run.files {
            problems.extend(f.problems.iter().cloned());
        }
        let report = if let Some(v) = new_versions.get(&code) {
            province_report(
                &code,
                &run.submission.location.display,
                v,
                Status::Loaded,
                problems,
            )
        } else if let Some(v) = current
            .and_then(|c| c.get(&code))
            .filter(|v| v.content_sha256 == run.content_sha256)
        {
            province_report(
                &code,
                &run.submission.location.display,
                v,
                Status::Unchanged,
                problems,
            )
        } else {
            let files: Vec<FileCount> = run
                .files
                .iter()
                .map(|f| FileCount {
                    rows_loaded: 0,
                    rows_rejected: f.count.rows_read,
                    file_rejected: true,
                    ..f.count.clone()
                })
                .collect();
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
        };
        reports.push(report);
    }
    let report = IngestReport::new(
        opts.warehouse.clone(),
        committed,
        opts.reject_threshold,
        reports,
    );
    if let Some(id) = committed
        && let Err(e) = write_report(&warehouse, id, &report).await
    {
        // The snapshot is committed: the outcome is the committed data's. The next ingest
        // into this warehouse writes the missing report (see `repair_reports`).
        tracing::warn!(
            snapshot = id,
            "snapshot {id} is committed but its report could not be stored ({e}); the next ingest writes it"
        );
    }
    Ok(report)
}

fn report_rel(id: u64, ext: &str) -> String {
    format!("_reports/ingest-{id:010}.{ext}")
}

/// Store the report of snapshot `id` in `_reports/`, the text form last (its presence marks a
/// complete pair).
async fn write_report(
    warehouse: &Warehouse,
    id: u64,
    report: &IngestReport,
) -> Result<(), WarehouseError> {
    warehouse
        .location
        .put_bytes(&report_rel(id, "json"), report.to_json().into_bytes())
        .await?;
    warehouse
        .location
        .put_bytes(&report_rel(id, "txt"), report.to_text().into_bytes())
        .await
}

/// Write the reports of committed snapshots that have none (a failure or a crash between the
/// commit and the report): rebuilt from the snapshot's catalog entry, which records every
/// province version it committed with its files, counts and rules.
async fn repair_reports(warehouse: &Warehouse, opts: &IngestOptions) -> Result<(), IngestError> {
    for id in warehouse.snapshot_ids().await? {
        if warehouse.location.exists(&report_rel(id, "txt")).await? {
            continue;
        }
        let snapshot = warehouse.snapshot(id).await?;
        let provinces: Vec<ProvinceReport> = snapshot
            .provinces
            .iter()
            .filter(|(_, v)| v.committed_in == id)
            .map(|(code, v)| {
                province_report(
                    code,
                    "(rebuilt from the snapshot: the original report could not be stored)",
                    v,
                    Status::Loaded,
                    Vec::new(),
                )
            })
            .collect();
        let report = IngestReport::new(
            opts.warehouse.clone(),
            Some(id),
            opts.reject_threshold,
            provinces,
        );
        write_report(warehouse, id, &report).await?;
        tracing::info!(snapshot = id, "wrote the missing report of snapshot {id}");
    }
    Ok(())
}

fn province_report(
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

/// Abort the process at a named point when `POVCENSUS_FAILPOINT` says so (crash tests).
fn failpoint(name: &str) {
    if std::env::var("POVCENSUS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

/// Write one table of a province's new version: the staged rows minus the cross-row rejects,
/// in line order, without `_line`. Returns the rows written.
async fn write_table(
    warehouse: &Warehouse,
    rel: &str,
    table: Table,
    staged: Option<&Path>,
    rejected_lines: &HashSet<u64>,
) -> Result<u64, IngestError> {
    let schema = arrow_schema(table);
    let Some(path) = staged else {
        let empty = futures::stream::empty();
        return Ok(warehouse.write_parquet(rel, schema, empty).await?);
    };
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|source| IngestError::Read {
            path: path.display().to_string(),
            source,
        })?;
    let staging_err = |source| IngestError::Staging {
        path: path.display().to_string(),
        source,
    };
    let reader = parquet::arrow::ParquetRecordBatchStreamBuilder::new(file)
        .await
        .map_err(staging_err)?
        .with_batch_size(32 * 1024)
        .build()
        .map_err(staging_err)?;
    let n = schema.fields().len();
    let out_schema = Arc::clone(&schema);
    let rejected = rejected_lines.clone();
    let batches = reader.map(move |b| {
        let b = b.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let (Some(columns), Some(lines)) = (b.columns().get(..n), b.columns().get(n)) else {
            return Err(datafusion::error::DataFusionError::Internal(
                "a staged file without its _line column".into(),
            ));
        };
        let lines = lines
            .as_primitive_opt::<arrow::datatypes::Int64Type>()
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(
                    "a staged _line column that is not Int64".into(),
                )
            })?;
        let projected = RecordBatch::try_new(Arc::clone(&out_schema), columns.to_vec())?;
        if rejected.is_empty() {
            return Ok(projected);
        }
        let keep: BooleanArray = lines
            .iter()
            .map(|l| Some(!rejected.contains(&(l.unwrap_or(0) as u64))))
            .collect();
        Ok(arrow::compute::filter_record_batch(&projected, &keep)?)
    });
    Ok(warehouse
        .write_parquet(rel, schema, Box::pin(batches))
        .await?)
}

/// Register `all_rejects`: the staged row-level rejects of the changed provinces and the
/// cross-row findings, in the rejects schema.
fn register_staged_rejects(
    ctx: &datafusion::prelude::SessionContext,
    runs: &[ProvinceRun],
    changed: &[usize],
    findings: &[CrossFinding],
) -> Result<(), IngestError> {
    let mut batches = Vec::new();
    for &i in changed {
        let run = &runs[i];
        let m = manifest_of(run)?;
        for f in &run.files {
            let file = std::fs::File::open(&f.rejects).map_err(|source| IngestError::Read {
                path: f.rejects.display().to_string(),
                source,
            })?;
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.build())
                    .map_err(|source| IngestError::Staging {
                        path: f.rejects.display().to_string(),
                        source,
                    })?;
            for b in reader {
                batches.push(b.map_err(|e| IngestError::Engine(e.into()))?);
            }
        }
        let mut by_file: BTreeMap<Table, Vec<RejectRow>> = BTreeMap::new();
        for f in findings.iter().filter(|f| f.province == m.province_code) {
            by_file.entry(f.table).or_default().push(RejectRow {
                line: Some(f.line),
                record_key: f.record_key.clone(),
                rule: f.rule,
                column: f.column.clone(),
                message: f.message.clone(),
            });
        }
        for (t, rows) in by_file {
            batches.push(
                stage::rejects_batch(&m.submission_id, &m.province_code, t.file_name(), &rows)
                    .map_err(|e| IngestError::Engine(e.into()))?,
            );
        }
    }
    let table = MemTable::try_new(crate::warehouse::rejects_schema(), vec![batches])?;
    ctx.deregister_table("all_rejects")?;
    ctx.register_table("all_rejects", Arc::new(table))?;
    Ok(())
}

/// Write a province's rejects, ordered by file (load order), line and rule.
async fn write_rejects(
    ctx: &datafusion::prelude::SessionContext,
    warehouse: &Warehouse,
    rel: &str,
    province: &str,
) -> Result<u64, IngestError> {
    let order: Vec<String> = Table::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!("WHEN '{}' THEN {i}", t.file_name()))
        .collect();
    let sql = format!(
        "SELECT * FROM all_rejects WHERE province_code = '{province}' \
         ORDER BY CASE file {} END, line NULLS FIRST, rule_id, record_key",
        order.join(" ")
    );
    let stream = ctx.sql(&sql).await?.execute_stream().await?;
    Ok(warehouse
        .write_parquet(rel, crate::warehouse::rejects_schema(), stream)
        .await?)
}

/// Counts the bytes read into the progress bar.
struct CountingReader {
    inner: Box<dyn Read + Send>,
    bar: indicatif::ProgressBar,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
