//! What changed between two snapshots of the warehouse (`povcensus diff`): per province and
//! table, the rows added, removed and changed. Counts only: no key, name or ID number ever
//! leaves the comparison.
//!
//! The phases: the provinces of both snapshots are paired; a province at the same version in
//! both is unchanged without reading a row; a province in one snapshot only is new (every row
//! added) or gone (every row removed), counted from the catalog; for the others each table's
//! two files are compared in SQL (`queries/comparison/`): a full outer join on the table's key
//! with the other columns compared NULL-safely, or, for a table without a key, the rows
//! compared whole as multisets. DataFusion streams the files, spilling beyond the memory limit.

use std::collections::BTreeSet;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::contract::schema::{Table, arrow_schema};
use crate::engine::{EngineConfig, fill, session};
use crate::warehouse::{DataFile, ProvinceVersion, Warehouse, WarehouseError};

const KEYED: &str = include_str!("../queries/comparison/keyed.sql");
const UNKEYED: &str = include_str!("../queries/comparison/unkeyed.sql");

#[derive(Debug, thiserror::Error)]
pub enum ComparisonError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("comparing {table} of province {province}: {source}")]
    Query {
        table: &'static str,
        province: String,
        source: DataFusionError,
    },
    #[error("the warehouse {0} has no committed snapshot: ingest submissions first")]
    Empty(String),
}

/// How a province differs between the two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The same version in both: nothing was read.
    Unchanged,
    /// Another version in the later snapshot.
    Changed,
    /// Only in the later snapshot.
    New,
    /// Only in the earlier snapshot.
    Removed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unchanged => "unchanged",
            Status::Changed => "changed",
            Status::New => "new",
            Status::Removed => "removed",
        }
    }
}

/// Rows of one table of one province in both snapshots, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableChange {
    pub table: &'static str,
    pub rows_from: u64,
    pub rows_to: u64,
    pub added: u64,
    pub removed: u64,
    /// Rows whose key is in both with another column different (0 for tables without a key:
    /// a changed row is one removed and one added).
    pub changed: u64,
}

/// One province.
#[derive(Debug, Clone, Serialize)]
pub struct ProvinceChange {
    pub province_code: String,
    pub status: Status,
    pub version_from: Option<u32>,
    pub version_to: Option<u32>,
    /// Every table the province has in either snapshot (none when unchanged).
    pub tables: Vec<TableChange>,
}

/// What changed from snapshot `from` to snapshot `to`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub from: u64,
    pub to: u64,
    pub provinces: Vec<ProvinceChange>,
}

/// Compare snapshot `from` with `to` (default: the newest); `progress` shows a bar over the
/// provinces.
pub async fn compare(
    warehouse: &str,
    from: u64,
    to: Option<u64>,
    engine: &EngineConfig,
    progress: bool,
) -> Result<Comparison, ComparisonError> {
    let wh = Warehouse::open(warehouse, false)?;
    let a = wh.snapshot(from).await?;
    let b = wh
        .snapshot_as_of(to)
        .await?
        .ok_or_else(|| ComparisonError::Empty(warehouse.to_string()))?;
    let ctx = session(engine).map_err(|source| ComparisonError::Query {
        table: "",
        province: String::new(),
        source,
    })?;
    let codes: BTreeSet<&String> = a.provinces.keys().chain(b.provinces.keys()).collect();
    let mut provinces = Vec::with_capacity(codes.len());
    let bar = crate::engine::progress::bar(
        progress,
        codes.len() as u64,
        "{spinner} comparing snapshots [{bar:30}] {pos}/{len} provinces, {eta} left",
    );
    for code in codes {
        let (va, vb) = (a.provinces.get(code), b.provinces.get(code));
        tracing::info!(province = %code, "comparing");
        provinces.push(compare_province(&wh, &ctx, code, va, vb).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Comparison {
        from: a.id,
        to: b.id,
        provinces,
    })
}

/// Whether two province versions are the same committed version.
fn same_version(a: &ProvinceVersion, b: &ProvinceVersion) -> bool {
    a.committed_in == b.committed_in
        && a.version == b.version
        && a.content_sha256 == b.content_sha256
}

async fn compare_province(
    wh: &Warehouse,
    ctx: &SessionContext,
    code: &str,
    a: Option<&ProvinceVersion>,
    b: Option<&ProvinceVersion>,
) -> Result<ProvinceChange, ComparisonError> {
    let status = match (a, b) {
        (Some(a), Some(b)) if same_version(a, b) => Status::Unchanged,
        (Some(_), Some(_)) => Status::Changed,
        (None, _) => Status::New,
        (_, None) => Status::Removed,
    };
    let mut tables = Vec::new();
    if status != Status::Unchanged {
        for t in Table::ALL {
            let fa = a.and_then(|v| v.tables.get(t.name()));
            let fb = b.and_then(|v| v.tables.get(t.name()));
            if fa.is_none() && fb.is_none() {
                continue;
            }
            let change = compare_table(wh, ctx, t, fa, fb).await.map_err(|source| {
                ComparisonError::Query {
                    table: t.name(),
                    province: code.to_string(),
                    source,
                }
            })?;
            tables.push(change);
        }
    }
    Ok(ProvinceChange {
        province_code: code.to_string(),
        status,
        version_from: a.map(|v| v.version),
        version_to: b.map(|v| v.version),
        tables,
    })
}

/// One table of one province: from the catalog when a side is missing or both are the same
/// file, else in SQL.
async fn compare_table(
    wh: &Warehouse,
    ctx: &SessionContext,
    t: Table,
    a: Option<&DataFile>,
    b: Option<&DataFile>,
) -> Result<TableChange, DataFusionError> {
    let rows = |f: Option<&DataFile>| f.map_or(0, |f| f.rows);
    let mut change = TableChange {
        table: t.name(),
        rows_from: rows(a),
        rows_to: rows(b),
        added: 0,
        removed: 0,
        changed: 0,
    };
    match (a, b) {
        (Some(a), Some(b)) if a.path == b.path => {}
        (Some(a), Some(b)) => {
            let reg = |name: &str, f: &DataFile| {
                wh.register_files(ctx, name, arrow_schema(t), &[f])
                    .map_err(|e| DataFusionError::External(Box::new(e)))
            };
            reg("a", a)?;
            reg("b", b)?;
            let batches = ctx.sql(&comparison_sql(t)).await?.collect().await?;
            let [added, removed, changed] = counts(&batches)?;
            (change.added, change.removed, change.changed) = (added, removed, changed);
        }
        _ => {
            change.added = change.rows_to;
            change.removed = change.rows_from;
        }
    }
    Ok(change)
}

/// The comparison of table `t`'s files registered as `a` and `b`.
pub fn comparison_sql(t: Table) -> String {
    let schema = arrow_schema(t);
    let columns: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|c| Some(*c) != t.key_column())
        .collect();
    match t.key_column() {
        Some(key) => {
            let differs: Vec<String> = columns
                .iter()
                .map(|c| format!("(a.{c} IS DISTINCT FROM b.{c})"))
                .collect();
            fill(
                KEYED,
                [
                    ("key", key),
                    ("differs", differs.join("\n        OR ").as_str()),
                ],
            )
        }
        None => {
            let same: Vec<String> = columns
                .iter()
                .map(|c| format!("(a_rows.{c} IS NOT DISTINCT FROM b_rows.{c})"))
                .collect();
            fill(
                UNKEYED,
                [
                    ("columns", columns.join(", ").as_str()),
                    ("same", same.join(" AND ").as_str()),
                ],
            )
        }
    }
}

/// The single row of added, removed, changed.
fn counts(batches: &[RecordBatch]) -> Result<[u64; 3], DataFusionError> {
    let b = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| DataFusionError::Internal("the comparison returned no row".into()))?;
    let mut out = [0u64; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let col = b.column(i).as_primitive_opt::<Int64Type>().ok_or_else(|| {
            DataFusionError::Internal("the comparison's counts are BIGINT".into())
        })?;
        *o = if col.is_null(0) {
            0
        } else {
            col.value(0).max(0) as u64
        };
    }
    Ok(out)
}

impl Comparison {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.provinces.iter().all(|p| p.status == Status::Unchanged)
    }
}
