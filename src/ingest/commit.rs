//! The commit phase: the new snapshot (the latest one with the changed provinces' new
//! versions) committed to the warehouse, and the ingest report of a committed snapshot stored
//! beside it in `_reports/`, or rebuilt by a later ingest when storing it failed.

use std::collections::BTreeMap;

use crate::warehouse::{DepartmentVersion, ProvinceVersion, Snapshot, Warehouse, WarehouseError};

use super::registers::department_report;
use super::report::{IngestReport, ProvinceReport, Status};
use super::summary::province_report;
use super::{IngestError, IngestOptions};

/// Commit the snapshot `snapshot_id` of the latest one plus `new_versions`. Returns its id,
/// or None when there is nothing new (no snapshot is committed).
pub(super) async fn commit(
    warehouse: &Warehouse,
    latest: Option<&Snapshot>,
    snapshot_id: u64,
    new_versions: &BTreeMap<String, ProvinceVersion>,
    new_departments: &BTreeMap<String, DepartmentVersion>,
) -> Result<Option<u64>, IngestError> {
    if new_versions.is_empty() && new_departments.is_empty() {
        return Ok(None);
    }
    let mut provinces = latest.map(|s| s.provinces.clone()).unwrap_or_default();
    provinces.extend(new_versions.clone());
    let mut departments = latest.map(|s| s.departments.clone()).unwrap_or_default();
    departments.extend(new_departments.clone());
    let snapshot = Snapshot {
        id: snapshot_id,
        parent: latest.map(|s| s.id),
        committed_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        provinces,
        departments,
    };
    failpoint("before-commit");
    warehouse.commit(&snapshot).await?;
    tracing::info!(
        snapshot = snapshot_id,
        provinces = new_versions.len(),
        departments = new_departments.len(),
        "committed"
    );
    Ok(Some(snapshot_id))
}

/// Store the report of the committed snapshot, if any. A failure only warns: the snapshot is
/// committed, so the outcome is the committed data's, and the next ingest into this warehouse
/// writes the missing report (see [`repair_reports`]).
pub(super) async fn store_report(
    warehouse: &Warehouse,
    committed: Option<u64>,
    report: &IngestReport,
) {
    if let Some(id) = committed
        && let Err(e) = write_report(warehouse, id, report).await
    {
        tracing::warn!(
            snapshot = id,
            "snapshot {id} is committed but its report could not be stored ({e}); the next ingest writes it"
        );
    }
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
pub(super) async fn repair_reports(
    warehouse: &Warehouse,
    opts: &IngestOptions,
) -> Result<(), IngestError> {
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
        let rebuilt = "(rebuilt from the snapshot: the original report could not be stored)";
        let departments = snapshot
            .departments
            .values()
            .filter(|v| v.committed_in == id)
            .map(|v| department_report(v, rebuilt.to_string(), Status::Loaded, Vec::new()))
            .collect();
        let report = IngestReport::new(
            opts.warehouse.clone(),
            Some(id),
            opts.reject_threshold,
            provinces,
        )
        .with_departments(departments);
        write_report(warehouse, id, &report).await?;
        tracing::info!(snapshot = id, "wrote the missing report of snapshot {id}");
    }
    Ok(())
}

/// Abort the process at a named point when `POVCENSUS_FAILPOINT` says so (crash tests).
fn failpoint(name: &str) {
    if std::env::var("POVCENSUS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
