//! The stage phase: every file of every submission opened (a local file only when it resolves
//! inside its submission directory), streamed through [`source::read_table`] on a blocking
//! thread, a few files at a time, and written to the local staging files of [`stage`]: the
//! rows that pass their row rules, and the row- and file-level findings.
//!
//! Each province's content hash (its manifest and its files' hashes) is computed here too:
//! it decides whether the province changes the warehouse.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

use crate::contract::manifest::{Encoding, Manifest, ManifestFile};
use crate::contract::registers::Layout;
use crate::contract::rules::{Rule, Severity};
use crate::contract::schema::Table;
use crate::warehouse::{FileCount, Location, WarehouseError};

use super::discover::{Submission, check_manifest, local_dir};
use super::source::{self, FileCheck};
use super::stage::{self, RejectRow, RejectsWriter, StagedWriter};
use super::{IngestError, IngestOptions, ProvinceRun};

/// The outcome of staging one file.
pub(super) struct StagedFile {
    pub(super) table: Layout,
    /// The rows loaded so far, as the warehouse's Parquet file.
    pub(super) data: Option<PathBuf>,
    /// A census table's checks file (the columns the cross-row rules read, with the lines).
    pub(super) checks: Option<PathBuf>,
    pub(super) rejects: PathBuf,
    pub(super) count: FileCount,
    pub(super) sha256: Option<String>,
    pub(super) problems: Vec<String>,
    pub(super) rule_counts: BTreeMap<String, u64>,
}

/// Stage every file of the submissions into `staging`, at most `threads` files at a time,
/// with a progress bar over the bytes read. One run per submission, in their order.
pub(super) async fn stage_all(
    submissions: Vec<Submission>,
    staging: &Path,
    opts: &IngestOptions,
) -> Result<Vec<ProvinceRun>, IngestError> {
    let bar = crate::engine::progress::bar(
        opts.progress,
        total_bytes(&submissions).await,
        "{spinner} reading and validating [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
    );
    let mut runs: Vec<ProvinceRun> = Vec::new();
    let mut jobs = Vec::new();
    for (si, s) in submissions.into_iter().enumerate() {
        let (checked, hasher) = ManifestCheck::of(&s);
        for t in Table::ALL {
            let required = checked.manifest.is_some() && t.required();
            let Some(input) = open_input(&s, t.file_name(), required, &bar).await? else {
                continue;
            };
            let job = checked.job(&s, t, si, staging);
            jobs.push(async move {
                let result = tokio::task::spawn_blocking(move || stage_file(input, &job)).await;
                (si, result)
            });
        }
        runs.push(ProvinceRun {
            submission: s,
            manifest: checked.manifest,
            problems: checked.problems,
            files: Vec::new(),
            // The hasher continues with the files' hashes in `finish_content_hash`.
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
        finish_content_hash(run);
    }
    Ok(runs)
}

/// The bytes of all the files of the submissions, for the progress bar.
async fn total_bytes(submissions: &[Submission]) -> u64 {
    let mut total = 0u64;
    for s in submissions {
        for t in Table::ALL {
            if let Ok(meta) = s.location.store.head(&s.location.path(t.file_name())).await {
                total += meta.size;
            }
        }
    }
    total
}

/// Order the staged files by table and add their hashes to the province's content hash.
fn finish_content_hash(run: &mut ProvinceRun) {
    run.files.sort_by_key(|f| f.table);
    let mut h = Sha256::new();
    h.update(run.content_sha256.as_bytes());
    for f in &run.files {
        h.update(f.count.file.as_bytes());
        h.update(f.sha256.as_deref().unwrap_or("absent").as_bytes());
    }
    run.content_sha256 = hex::encode(h.finalize());
}

/// A submission's manifest after its checks.
struct ManifestCheck {
    /// The manifest, when it is present and valid.
    manifest: Option<Manifest>,
    /// The encoding it declares.
    declared: Option<Encoding>,
    /// Why it is missing or invalid.
    problems: Vec<String>,
    submission_id: String,
    province: String,
}

impl ManifestCheck {
    /// Check the submission's manifest. Returns the check and the content hasher, fed with
    /// the manifest's bytes when it is valid.
    fn of(s: &Submission) -> (ManifestCheck, Sha256) {
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
        let checked = ManifestCheck {
            manifest,
            declared,
            problems,
            submission_id,
            province,
        };
        (checked, hasher)
    }

    /// What staging table `t` of submission number `si` needs besides its bytes.
    fn job(&self, s: &Submission, t: Table, si: usize, staging: &Path) -> FileJob {
        // Staging files are named by the submission's index: two inputs never share one.
        let stem = format!("s{si:04}");
        FileJob {
            table: t.into(),
            province: self.province.clone(),
            submission_id: self.submission_id.clone(),
            // Without a valid manifest the encoding is detected.
            declared: self.manifest.as_ref().and(self.declared),
            expected: self
                .manifest
                .as_ref()
                .and_then(|m| m.files.get(t.file_name()).cloned()),
            stem: staging.join(stem),
            display: s.location.display.clone(),
        }
    }
}

/// The input of file `name` of a submission, counted into the progress bar; None when the
/// file is absent and not `required`. An absent required file is a finding, so it is
/// [`Input::Missing`].
pub(super) async fn open_input(
    s: &Submission,
    name: &str,
    required: bool,
    bar: &indicatif::ProgressBar,
) -> Result<Option<Input>, IngestError> {
    let present = match local_dir(&s.location) {
        // A link counts as present even when it does not resolve (it is a finding).
        Some(_) => std::fs::symlink_metadata(format!("/{}", s.location.path(name))).is_ok(),
        None => s.location.exists(name).await?,
    };
    // Absent optional files are skipped; an absent required file is a finding.
    if !(present || required) {
        return Ok(None);
    }
    let input = if present {
        open_reader(&s.location, name).await?
    } else {
        Input::Missing
    };
    Ok(Some(match input {
        Input::Present(r) => Input::Present(Box::new(CountingReader {
            inner: r,
            bar: bar.clone(),
        })),
        other => other,
    }))
}

/// A file of a submission, as staging sees it.
pub(super) enum Input {
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

/// What staging one file needs besides its bytes.
pub(super) struct FileJob {
    pub(super) table: Layout,
    /// The submitting province (empty for a register).
    pub(super) province: String,
    pub(super) submission_id: String,
    /// The encoding the manifest declares (None: detect it).
    pub(super) declared: Option<Encoding>,
    /// The manifest's entry for the file.
    pub(super) expected: Option<ManifestFile>,
    /// The staging files' path without extension.
    pub(super) stem: PathBuf,
    /// The submission, for messages.
    pub(super) display: String,
}

impl FileJob {
    fn data_path(&self) -> PathBuf {
        self.stem
            .with_extension(format!("{}.parquet", self.table.name()))
    }

    fn checks_path(&self) -> PathBuf {
        self.stem.with_extension(format!(
            "{}.checks{}",
            self.table.name(),
            super::stage::STAGED_EXTENSION
        ))
    }

    fn rejects_path(&self) -> PathBuf {
        self.stem
            .with_extension(format!("{}.rejects.parquet", self.table.name()))
    }

    fn rejects_writer(&self) -> Result<RejectsWriter, IngestError> {
        let path = self.rejects_path();
        RejectsWriter::create(
            path.clone(),
            &self.submission_id,
            &self.province,
            self.table.file_name(),
        )
        .map_err(staging_err(&path))
    }
}

/// The error of a staging file.
pub(super) fn staging_err(
    p: &Path,
) -> impl FnOnce(parquet::errors::ParquetError) -> IngestError + use<> {
    let p = p.display().to_string();
    move |source| IngestError::Staging { path: p, source }
}

/// Stream one file through the reader and row rules into staging. Runs on a blocking thread.
pub(super) fn stage_file(input: Input, job: &FileJob) -> Result<StagedFile, IngestError> {
    let rejects = job.rejects_writer()?;
    match input {
        Input::Present(r) => stage_rows(r, job, rejects),
        Input::Missing => stage_unread(job, rejects, false),
        Input::Outside => stage_unread(job, rejects, true),
    }
}

/// A required file that is absent, or a link leaving the submission that is not read:
/// nothing of it loads (its children are orphans).
fn stage_unread(
    job: &FileJob,
    mut rejects: RejectsWriter,
    outside: bool,
) -> Result<StagedFile, IngestError> {
    let file = job.table.file_name();
    let rejects_path = job.rejects_path();
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
    let mut rule_counts: BTreeMap<String, u64> = BTreeMap::new();
    rule_counts.insert(rule.id().to_string(), 1);
    Ok(StagedFile {
        table: job.table,
        data: None,
        checks: None,
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
    })
}

/// The rows of a file after streaming: the file's check, the rows rejected by their row rules
/// and the count of each row rule's findings.
struct StreamedRows {
    check: FileCheck,
    rejected_rows: u64,
    /// Rows loaded with a warning (register dates after the reference date).
    flagged_rows: u64,
    row_rules: BTreeMap<String, u64>,
}

/// Stage the rows of a present file, then its file-level findings.
fn stage_rows(
    input: Box<dyn Read + Send>,
    job: &FileJob,
    mut rejects: RejectsWriter,
) -> Result<StagedFile, IngestError> {
    let data_path = job.data_path();
    let writer = match job.table {
        Layout::Census(t) => {
            StagedWriter::create(data_path.clone(), job.checks_path(), t, &job.province)
        }
        Layout::Register(r) => StagedWriter::create_register(data_path.clone(), r),
    };
    let mut writer = writer.map_err(staging_err(&data_path))?;
    let streamed = stream_rows(input, job, &mut writer, &mut rejects)?;
    let staged = writer.finish().map_err(staging_err(&data_path))?;
    finish_file(job, streamed, staged, rejects)
}

/// Read the file's records: the rows that pass go to `writer`, every row finding to
/// `rejects`.
fn stream_rows(
    input: Box<dyn Read + Send>,
    job: &FileJob,
    writer: &mut StagedWriter,
    rejects: &mut RejectsWriter,
) -> Result<StreamedRows, IngestError> {
    let table = job.table;
    let mut rejected_rows = 0u64;
    let mut flagged_rows = 0u64;
    let mut failure: Option<parquet::errors::ParquetError> = None;
    let mut row_rules: BTreeMap<String, u64> = BTreeMap::new();
    let check = source::read_table(
        input,
        table,
        &job.province,
        job.declared,
        job.expected.as_ref(),
        |ev| {
            if failure.is_some() {
                return;
            }
            let rejected = ev.rejected();
            if rejected {
                rejected_rows += ev.rows;
            } else if let Err(e) = writer.append(ev.line, ev.values) {
                failure = Some(e);
            } else if !ev.findings.is_empty() {
                flagged_rows += 1;
            }
            let key = if ev.findings.is_empty() {
                None
            } else {
                ev.key()
            };
            for f in &ev.findings {
                *row_rules.entry(f.rule.id().to_string()).or_default() += 1;
                if let Err(e) = rejects.push(RejectRow::from_finding(Some(ev.line), key.clone(), f))
                {
                    failure = Some(e);
                }
            }
        },
    )
    .map_err(|source| IngestError::Read {
        path: format!("{}/{}", job.display, table.file_name()),
        source,
    })?;
    if let Some(e) = failure {
        return Err(IngestError::Staging {
            path: job.data_path().display().to_string(),
            source: e,
        });
    }
    Ok(StreamedRows {
        check,
        rejected_rows,
        flagged_rows,
        row_rules,
    })
}

/// Add the file-level findings to the file's rejects and count its rows. A file the findings
/// reject loads none of its rows, and only the file-level findings are reported.
fn finish_file(
    job: &FileJob,
    streamed: StreamedRows,
    staged: stage::Staged,
    mut rejects: RejectsWriter,
) -> Result<StagedFile, IngestError> {
    let StreamedRows {
        check,
        rejected_rows,
        flagged_rows,
        mut row_rules,
    } = streamed;
    let file = job.table.file_name();
    let rejects_path = job.rejects_path();
    let file_rejected = check.rejected();
    let mut problems = Vec::new();
    let mut rule_counts: BTreeMap<String, u64> = BTreeMap::new();
    let staged_rows = staged.rows;
    let (data, checks) = if file_rejected {
        stage::remove(&staged.data);
        if let Some(c) = &staged.checks {
            stage::remove(c);
        }
        drop(rejects);
        rejects = job.rejects_writer()?;
        row_rules.clear();
        (None, None)
    } else {
        (Some(staged.data), staged.checks)
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
        table: job.table,
        data,
        checks,
        rejects: rejects_path,
        count: FileCount {
            file: file.to_string(),
            encoding: Some(check.encoding.label().to_string()),
            rows_read: check.rows_read,
            rows_loaded: check.rows_read.saturating_sub(rows_rejected),
            rows_rejected,
            rows_flagged: if file_rejected { 0 } else { flagged_rows },
            file_rejected,
        },
        sha256: Some(check.sha256),
        problems,
        rule_counts,
    })
}
