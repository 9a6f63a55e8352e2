//! The write phase: each changed province's new version written to the warehouse (every
//! table: its staged rows minus the cross-row rejects; and its rejects), and its version
//! record with the files' counts, which must balance against the rows written.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::contract::rules::Severity;
use crate::contract::schema::{Table, arrow_schema};
use crate::warehouse::{DataFile, FileCount, ProvinceVersion, Warehouse};

use super::cross::CrossFinding;
use super::crosscheck::Checked;
use super::decide::Changed;
use super::staging::{StagedFile, staging_err};
use super::{IngestError, IngestOptions, ProvinceRun, manifest_of};

/// The tasks writing the tables of the changed provinces, by province code and table; each
/// yields the rows written.
type Writes = BTreeMap<(String, Table), tokio::task::JoinHandle<Result<u64, IngestError>>>;

/// Where a changed province's new version goes.
struct VersionDir {
    code: String,
    version: u32,
    /// `v={version}-{hash}`: the directory of the version under each table's province.
    dir: String,
}

impl VersionDir {
    /// The new version of the run's province after its `current` one.
    fn of(
        run: &ProvinceRun,
        current: Option<&BTreeMap<String, ProvinceVersion>>,
    ) -> Result<VersionDir, IngestError> {
        let code = manifest_of(run)?.province_code.clone();
        let version = current
            .and_then(|c| c.get(&code))
            .map_or(1, |v| v.version + 1);
        let hash = run.content_sha256.get(..12).unwrap_or(&run.content_sha256);
        let dir = format!("v={version}-{hash}");
        Ok(VersionDir { code, version, dir })
    }

    fn table_rel(&self, t: Table) -> String {
        format!(
            "data/{}/province={}/{}/part-0.parquet",
            t.name(),
            self.code,
            self.dir
        )
    }

    fn rejects_rel(&self) -> String {
        format!("rejects/province={}/{}/part-0.parquet", self.code, self.dir)
    }
}

/// Write the new versions of the changed provinces, committed in snapshot `snapshot_id`.
/// Returns their version records by province code.
pub(super) async fn write_versions(
    runs: &[ProvinceRun],
    changed: &Changed,
    checked: &Checked,
    current: Option<&BTreeMap<String, ProvinceVersion>>,
    warehouse: &Warehouse,
    snapshot_id: u64,
    opts: &IngestOptions,
) -> Result<BTreeMap<String, ProvinceVersion>, IngestError> {
    let mut writes = spawn_writes(runs, changed, &checked.findings, current, warehouse, opts)?;
    let bar = crate::engine::progress::bar(
        opts.progress,
        changed.runs.len() as u64,
        "{spinner} writing new versions [{bar:30}] {pos}/{len} provinces, {elapsed}",
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut new_versions = BTreeMap::new();
    for &i in &changed.runs {
        let run = &runs[i];
        let at = VersionDir::of(run, current)?;
        let version = province_version(run, &at, checked, &mut writes, warehouse).await;
        let version = match version {
            Ok(v) => v,
            Err(e) => {
                bar.finish_and_clear();
                return Err(e);
            }
        };
        new_versions.insert(at.code, version.record(snapshot_id, opts.reject_threshold));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(new_versions)
}

/// Start writing every table of every changed province: CPU-bound (zstd), so as tasks, at
/// most `threads` at a time (each holds a row group in memory).
fn spawn_writes(
    runs: &[ProvinceRun],
    changed: &Changed,
    findings: &[CrossFinding],
    current: Option<&BTreeMap<String, ProvinceVersion>>,
    warehouse: &Warehouse,
    opts: &IngestOptions,
) -> Result<Writes, IngestError> {
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.engine.threads.max(1)));
    let mut writes: Writes = BTreeMap::new();
    for &i in &changed.runs {
        let at = VersionDir::of(&runs[i], current)?;
        let code = &at.code;
        for t in Table::ALL {
            let rel = at.table_rel(t);
            let staged = runs[i].files.iter().find(|f| f.table == t).and_then(|f| {
                f.data.clone().map(|data| StagedTable {
                    data,
                    checks: f.checks.clone(),
                })
            });
            let rejected_lines: HashSet<u64> = findings
                .iter()
                .filter(|f| {
                    &f.province == code && f.table == t && f.rule.severity() == Severity::Error
                })
                .map(|f| f.line)
                .collect();
            let (wh, permits) = (warehouse.clone(), Arc::clone(&permits));
            writes.insert(
                (code.clone(), t),
                tokio::spawn(async move {
                    // The semaphore is never closed; without a permit the write still runs.
                    let _permit = permits.acquire_owned().await.ok();
                    write_table(&wh, &rel, t, staged, rejected_lines).await
                }),
            );
        }
    }
    Ok(writes)
}

/// A changed province's new version, once its tables and its rejects are written.
struct NewVersion {
    code: String,
    version: u32,
    submission_id: String,
    content_sha256: String,
    tables: BTreeMap<String, DataFile>,
    rejects: DataFile,
    files: Vec<FileCount>,
    rules: BTreeMap<String, u64>,
}

impl NewVersion {
    /// The version record, committed in snapshot `snapshot_id`; a share of rejected rows
    /// above `threshold` requires a resubmission.
    fn record(self, snapshot_id: u64, threshold: f64) -> ProvinceVersion {
        let read: u64 = self.files.iter().map(|f| f.rows_read).sum();
        let rejected: u64 = self.files.iter().map(|f| f.rows_rejected).sum();
        let share = if read == 0 {
            0.0
        } else {
            rejected as f64 / read as f64
        };
        ProvinceVersion {
            province_code: self.code,
            version: self.version,
            submission_id: self.submission_id,
            content_sha256: self.content_sha256,
            committed_in: snapshot_id,
            tables: self.tables,
            rejects: self.rejects,
            files: self.files,
            rules: self.rules,
            rejected_share: share,
            resubmission_required: share > threshold,
        }
    }
}

/// Write a changed province's tables (awaiting their tasks) and its rejects.
async fn province_version(
    run: &ProvinceRun,
    at: &VersionDir,
    checked: &Checked,
    writes: &mut Writes,
    warehouse: &Warehouse,
) -> Result<NewVersion, IngestError> {
    let manifest = manifest_of(run)?;
    let code = &at.code;
    let mine: Vec<&CrossFinding> = checked
        .findings
        .iter()
        .filter(|f| &f.province == code)
        .collect();
    let rules = rule_counts(run, &mine);
    let mut tables = BTreeMap::new();
    let mut files = Vec::new();
    for t in Table::ALL {
        let written = writes
            .remove(&(code.clone(), t))
            .ok_or(IngestError::Internal("a province's table was not written"))?
            .await??;
        tables.insert(
            t.name().to_string(),
            DataFile {
                path: at.table_rel(t),
                rows: written,
            },
        );
        if let Some(sf) = run.files.iter().find(|f| f.table == t) {
            files.push(balanced_count(code, sf, t, &mine, written)?);
        }
    }
    let rejects_rel = at.rejects_rel();
    let rejects_rows = write_rejects(&checked.ctx, warehouse, &rejects_rel, code).await?;
    Ok(NewVersion {
        code: code.clone(),
        version: at.version,
        submission_id: manifest.submission_id.clone(),
        content_sha256: run.content_sha256.clone(),
        tables,
        rejects: DataFile {
            path: rejects_rel,
            rows: rejects_rows,
        },
        files,
        rules,
    })
}

/// Findings per rule id of a province: its files' row and file rules and its cross-row
/// findings (`mine`).
pub(super) fn rule_counts(run: &ProvinceRun, mine: &[&CrossFinding]) -> BTreeMap<String, u64> {
    let mut rules: BTreeMap<String, u64> = BTreeMap::new();
    for f in &run.files {
        for (r, n) in &f.rule_counts {
            *rules.entry(r.clone()).or_default() += n;
        }
    }
    for f in mine {
        *rules.entry(f.rule.id().to_string()).or_default() += 1;
    }
    rules
}

/// A staged file's counts with its cross-row rejects and flags, checked against the rows
/// written: every row read is loaded or rejected.
fn balanced_count(
    code: &str,
    sf: &StagedFile,
    t: Table,
    mine: &[&CrossFinding],
    written: u64,
) -> Result<FileCount, IngestError> {
    let (c, loaded) = count_with(sf, t, mine);
    if loaded != Some(written) {
        return Err(IngestError::Conservation {
            province: code.to_string(),
            file: c.file.clone(),
            read: c.rows_read,
            written,
            rejected: c.rows_rejected,
        });
    }
    Ok(c)
}

/// A staged file's counts with its cross-row rejects and flags (`mine`: the province's
/// cross-row findings), and the rows it loads (None when more are rejected than read).
pub(super) fn count_with(
    sf: &StagedFile,
    t: Table,
    mine: &[&CrossFinding],
) -> (FileCount, Option<u64>) {
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
    let mut c = sf.count.clone();
    c.rows_rejected += rejected_lines;
    c.rows_flagged = flagged_lines.len() as u64;
    let loaded = c.rows_read.checked_sub(c.rows_rejected);
    c.rows_loaded = loaded.unwrap_or(0);
    (c, loaded)
}

/// A table's staged files: the Parquet file of its rows and the checks file with their lines.
struct StagedTable {
    data: PathBuf,
    checks: Option<PathBuf>,
}

/// Write one table of a province's new version: its staged rows minus the cross-row rejects,
/// in line order. Without rejects the staged Parquet file is the version's file, put as it is;
/// with them it is read again, skipping the rejected lines' rows, and written anew. Returns
/// the rows written.
async fn write_table(
    warehouse: &Warehouse,
    rel: &str,
    table: Table,
    staged: Option<StagedTable>,
    rejected_lines: HashSet<u64>,
) -> Result<u64, IngestError> {
    let schema = arrow_schema(table);
    let Some(staged) = staged else {
        let empty = futures::stream::empty();
        return Ok(warehouse.write_parquet(rel, schema, empty).await?);
    };
    if rejected_lines.is_empty() {
        return Ok(warehouse.put_parquet(rel, &staged.data).await?);
    }
    let read = tokio::task::spawn_blocking(move || without_lines(&staged, &rejected_lines));
    let reader = read.await??;
    let batches =
        futures::stream::iter(reader).map(|b| b.map_err(datafusion::error::DataFusionError::from));
    Ok(warehouse
        .write_parquet(rel, schema, Box::pin(batches))
        .await?)
}

/// A reader of a staged Parquet file's rows but those of the `rejected` lines (the checks file
/// gives each row's line, in the same order).
fn without_lines(
    staged: &StagedTable,
    rejected: &HashSet<u64>,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, IngestError> {
    use parquet::arrow::arrow_reader::{
        ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
    };
    let checks = staged.checks.as_deref().ok_or(IngestError::Internal(
        "cross-row rejects in a table without a checks file",
    ))?;
    let lines = super::stage::staged_lines(checks)
        .map_err(|e| staging_err(checks)(parquet::errors::ParquetError::from(e)))?;
    // Runs of kept and skipped rows, in row order.
    let mut selectors: Vec<RowSelector> = Vec::new();
    for line in lines {
        let skip = rejected.contains(&(line as u64));
        match selectors.last_mut() {
            Some(s) if s.skip == skip => s.row_count += 1,
            _ => selectors.push(if skip {
                RowSelector::skip(1)
            } else {
                RowSelector::select(1)
            }),
        }
    }
    let file = std::fs::File::open(&staged.data).map_err(|source| IngestError::Read {
        path: staged.data.display().to_string(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| {
            b.with_row_selection(RowSelection::from(selectors))
                .with_batch_size(32 * 1024)
                .build()
        })
        .map_err(staging_err(&staged.data))
}

/// Write a province's rejects, ordered by file (load order), line and rule.
async fn write_rejects(
    ctx: &SessionContext,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::stage::StagedWriter;
    use crate::ingest::validation::Value;
    use std::borrow::Cow;

    /// A staged file rewritten without rejected lines keeps exactly the other rows, in order,
    /// whatever runs of kept and rejected rows they form.
    #[test]
    fn a_rewrite_drops_the_rows_of_the_rejected_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = StagedWriter::create(
            dir.path().join("t.parquet"),
            dir.path().join("t.arrow"),
            Table::Counties,
            "52",
        )
        .unwrap();
        let width = Table::Counties.columns().len();
        for line in 2..=8u64 {
            let code = format!("5226{line:02}");
            let mut vals = vec![Value::Null; width];
            vals[0] = Value::Str(Cow::Owned(code));
            w.append(line, &vals).unwrap();
        }
        let staged = w.finish().unwrap();
        let staged = StagedTable {
            data: staged.data,
            checks: staged.checks,
        };
        let rejected: HashSet<u64> = [2, 4, 5, 8].into_iter().collect();
        let mut codes = Vec::new();
        for b in without_lines(&staged, &rejected).unwrap() {
            let c = crate::engine::utf8(b.unwrap().column(0)).unwrap();
            codes.extend(c.iter().map(|v| v.unwrap().to_string()));
        }
        assert_eq!(codes, ["522603", "522606", "522607"]);
    }
}
