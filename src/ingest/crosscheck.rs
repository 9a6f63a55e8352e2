//! The cross-check phase: the cross-row rules ([`cross`]) over the staged files of the
//! changed provinces and the warehouse's files of the others, on a DataFusion session, and
//! every reject of the changed provinces (staged row-level ones and cross-row findings)
//! registered in that session as `all_rejects` for the write phase.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::contract::schema::Table;
use crate::engine::{EngineConfig, session};
use crate::warehouse::{DataFile, ProvinceVersion, Warehouse};

use super::cross::{self, CrossFinding, CrossInput, StagedProvince};
use super::decide::Changed;
use super::stage::{self, RejectRow};
use super::{IngestError, IngestOptions, ProvinceRun, manifest_of};

/// The outcome of the cross-check: the session holding `all_rejects`, and the cross-row
/// findings.
pub(super) struct Checked {
    pub(super) ctx: SessionContext,
    pub(super) findings: Vec<CrossFinding>,
}

/// Run the cross-row rules over the changed provinces (against the unchanged ones of
/// `current`) and register their rejects. Spill files go to `staging`.
pub(super) async fn cross_check(
    runs: &[ProvinceRun],
    changed: &Changed,
    current: Option<&BTreeMap<String, ProvinceVersion>>,
    warehouse: &Warehouse,
    staging: &Path,
    opts: &IngestOptions,
) -> Result<Checked, IngestError> {
    let staged = staged_files(runs, changed)?;
    let engine = EngineConfig {
        spill_dir: Some(staging.to_path_buf()),
        ..opts.engine.clone()
    };
    // Its one join (the duplicates') chooses its strategy by its own size; the other joins run
    // a province at a time, in sessions of their own.
    let ctx = session(&engine)?;
    let bar = crate::engine::progress::bar(
        opts.progress,
        Table::ALL.len() as u64,
        "{spinner} cross-row checks [{bar:30}] {pos}/{len} tables, {elapsed}: {msg}",
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let findings = cross::check(
        &ctx,
        &CrossInput {
            staged: &staged,
            warehouse,
            existing: &existing_files(changed, current),
            engine: &engine,
        },
        &bar,
    )
    .await;
    bar.finish_and_clear();
    let findings = findings?;
    register_staged_rejects(&ctx, runs, changed, &findings)?;
    Ok(Checked { ctx, findings })
}

/// The staged checks files of the changed provinces, by province code.
fn staged_files(
    runs: &[ProvinceRun],
    changed: &Changed,
) -> Result<BTreeMap<String, StagedProvince>, IngestError> {
    let mut staged: BTreeMap<String, StagedProvince> = BTreeMap::new();
    for &i in &changed.runs {
        let province = staged
            .entry(manifest_of(&runs[i])?.province_code.clone())
            .or_default();
        for f in &runs[i].files {
            if let (Some(d), Some(t)) = (&f.checks, f.table.table()) {
                province.files.insert(t, d.clone());
                if t == Table::Persons {
                    province.persons += f.count.rows_read;
                }
            }
        }
    }
    Ok(staged)
}

/// The warehouse's data files of the provinces that do not change, by table.
fn existing_files(
    changed: &Changed,
    current: Option<&BTreeMap<String, ProvinceVersion>>,
) -> BTreeMap<Table, Vec<DataFile>> {
    let mut existing: BTreeMap<Table, Vec<DataFile>> = BTreeMap::new();
    if let Some(c) = current {
        for (code, v) in c {
            if !changed.codes.contains(code) {
                for t in Table::ALL {
                    if let Some(f) = v.tables.get(t.name()) {
                        existing.entry(t).or_default().push(f.clone());
                    }
                }
            }
        }
    }
    existing
}

/// Register `all_rejects`: the staged row-level rejects of the changed provinces and the
/// cross-row findings, in the rejects schema.
fn register_staged_rejects(
    ctx: &SessionContext,
    runs: &[ProvinceRun],
    changed: &Changed,
    findings: &[CrossFinding],
) -> Result<(), IngestError> {
    let mut batches = Vec::new();
    for &i in &changed.runs {
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
