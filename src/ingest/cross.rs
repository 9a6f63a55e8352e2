//! Cross-row rules over the staged data of a run, in SQL on DataFusion (the statements are in
//! `queries/ingest/`): orphans with their cascade (a rejected county rejects its townships,
//! their villages, households and persons), duplicate keys nationally (also against the
//! provinces already in the warehouse), the links of the exit-assessment sample, and the
//! household warnings.
//!
//! Tables are checked parents first. For each table, orphans are found against the *loaded*
//! rows of its parent, then duplicate keys among the rows that remain. `loaded_<table>` is a
//! view: the staged rows minus this stage's rejects, so nothing is materialized in memory and
//! the memory pool bounds every join and aggregate (they spill).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use super::stage::staged_schema;
use crate::rules::Rule;
use crate::schema::{Table, arrow_schema};
use crate::warehouse::{DataFile, Warehouse};

const ORPHAN_TOWNSHIPS: &str = include_str!("../../queries/ingest/orphan_townships.sql");
const ORPHAN_VILLAGES: &str = include_str!("../../queries/ingest/orphan_villages.sql");
const ORPHAN_HOUSEHOLDS: &str = include_str!("../../queries/ingest/orphan_households.sql");
const ORPHAN_PERSONS: &str = include_str!("../../queries/ingest/orphan_persons.sql");
const DUPLICATES: &str = include_str!("../../queries/ingest/duplicates.sql");
const ASSESSMENT_LINKS: &str = include_str!("../../queries/ingest/assessment_links.sql");
const HOUSEHOLD_WARNINGS: &str = include_str!("../../queries/ingest/household_warnings.sql");

/// A finding of a cross-row rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossFinding {
    pub table: Table,
    pub province: String,
    pub line: u64,
    pub record_key: Option<String>,
    pub rule: Rule,
    pub column: Option<String>,
    pub message: String,
}

/// What a run's cross-row stage works on.
pub struct CrossInput<'a> {
    /// Staged files of this run, per table (all provinces of the run).
    pub staged: &'a BTreeMap<Table, Vec<PathBuf>>,
    /// The warehouse and the current files of the provinces not in this run.
    pub warehouse: &'a Warehouse,
    pub existing: &'a BTreeMap<Table, Vec<DataFile>>,
}

fn register_local(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    files: &[PathBuf],
) -> Result<(), DataFusionError> {
    let provider: Arc<dyn datafusion::catalog::TableProvider> = if files.is_empty() {
        Arc::new(MemTable::try_new(schema, vec![vec![]])?)
    } else {
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(f.to_string_lossy()))
            .collect::<Result<Vec<_>, _>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        Arc::new(ListingTable::try_new(config)?)
    };
    ctx.deregister_table(name)?;
    ctx.register_table(name, provider)?;
    Ok(())
}

fn lines_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("province_code", DataType::Utf8, false),
        Field::new("_line", DataType::Int64, false),
    ]))
}

/// Register `rejected_<t>` (province, line) and the view `loaded_<t>`.
async fn register_loaded(
    ctx: &SessionContext,
    t: Table,
    rejected: &[CrossFinding],
) -> Result<(), DataFusionError> {
    let mut prov = arrow::array::StringBuilder::new();
    let mut line = arrow::array::Int64Builder::new();
    for f in rejected
        .iter()
        .filter(|f| f.table == t && f.rule.severity() == crate::rules::Severity::Error)
    {
        prov.append_value(&f.province);
        line.append_value(f.line as i64);
    }
    let batch = RecordBatch::try_new(
        lines_schema(),
        vec![Arc::new(prov.finish()), Arc::new(line.finish())],
    )?;
    let name = format!("rejected_{}", t.name());
    ctx.deregister_table(&name)?;
    ctx.register_table(
        &name,
        Arc::new(MemTable::try_new(lines_schema(), vec![vec![batch]])?),
    )?;
    let view = format!(
        "SELECT s.* FROM staged_{t} AS s WHERE NOT EXISTS \
         (SELECT 1 FROM rejected_{t} AS r WHERE r.province_code = s.province_code AND r._line = s._line)",
        t = t.name()
    );
    let df = ctx.sql(&view).await?;
    let name = format!("loaded_{}", t.name());
    ctx.deregister_table(&name)?;
    ctx.register_table(&name, df.into_view())?;
    Ok(())
}

fn string_at(a: &dyn Array, i: usize) -> Option<String> {
    if a.is_null(i) {
        return None;
    }
    if let Some(s) = a.as_string_opt::<i32>() {
        return Some(s.value(i).to_string());
    }
    if let Some(s) = a.as_string_view_opt() {
        return Some(s.value(i).to_string());
    }
    a.as_string_opt::<i64>().map(|s| s.value(i).to_string())
}

/// Run one rule query: its columns are province_code, _line, record_key, [rule_id,]
/// column_name, message.
async fn findings(
    ctx: &SessionContext,
    sql: &str,
    table: Table,
    fixed_rule: Option<Rule>,
) -> Result<Vec<CrossFinding>, DataFusionError> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in &batches {
        let col = |name: &str| -> Result<&dyn Array, DataFusionError> {
            b.column_by_name(name)
                .map(|a| a.as_ref())
                .ok_or_else(|| DataFusionError::Plan(format!("rule query lacks column {name}")))
        };
        let prov = col("province_code")?;
        let line = col("_line")?;
        let key = col("record_key")?;
        let column = col("column_name")?;
        let message = col("message")?;
        let rule_col = b.column_by_name("rule_id");
        let lines = arrow::compute::cast(line, &DataType::Int64)?;
        let lines = lines.as_primitive::<arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            let rule = match (fixed_rule, rule_col) {
                (Some(r), _) => r,
                (None, Some(rc)) => {
                    let id = string_at(rc.as_ref(), i).unwrap_or_default();
                    Rule::from_id(&id)
                        .ok_or_else(|| DataFusionError::Plan(format!("unknown rule id {id}")))?
                }
                (None, None) => {
                    return Err(DataFusionError::Plan("rule query lacks rule_id".into()));
                }
            };
            out.push(CrossFinding {
                table,
                province: string_at(prov, i).unwrap_or_default(),
                line: lines.value(i) as u64,
                record_key: string_at(key, i),
                rule,
                column: string_at(column, i),
                message: string_at(message, i).unwrap_or_default(),
            });
        }
    }
    out.sort_by(|a, b| (&a.province, a.line, a.rule).cmp(&(&b.province, b.line, b.rule)));
    Ok(out)
}

/// Run every cross-row rule. Returns the findings (errors reject the row; warnings flag it).
pub async fn check(
    ctx: &SessionContext,
    input: &CrossInput<'_>,
) -> Result<Vec<CrossFinding>, DataFusionError> {
    let empty = Vec::new();
    for t in Table::ALL {
        register_local(
            ctx,
            &format!("staged_{}", t.name()),
            staged_schema(t),
            input.staged.get(&t).unwrap_or(&empty),
        )?;
        let existing: Vec<&DataFile> = input
            .existing
            .get(&t)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        input
            .warehouse
            .register_files(
                ctx,
                &format!("existing_{}", t.name()),
                arrow_schema(t),
                &existing,
            )
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
    }
    let mut all: Vec<CrossFinding> = Vec::new();
    for t in Table::ALL {
        let mut rejected: Vec<CrossFinding> = match t {
            Table::Counties => Vec::new(),
            Table::Townships => findings(ctx, ORPHAN_TOWNSHIPS, t, Some(Rule::KeyOrphan)).await?,
            Table::Villages => findings(ctx, ORPHAN_VILLAGES, t, Some(Rule::KeyOrphan)).await?,
            Table::Households => findings(ctx, ORPHAN_HOUSEHOLDS, t, Some(Rule::KeyOrphan)).await?,
            Table::Persons => findings(ctx, ORPHAN_PERSONS, t, Some(Rule::KeyOrphan)).await?,
            Table::AssessmentHouseholds => findings(ctx, ASSESSMENT_LINKS, t, None).await?,
        };
        if let Some(key) = t.key_column() {
            // remaining_<t>: staged rows that are not orphans.
            register_loaded(ctx, t, &rejected).await?;
            let remaining = ctx.table(format!("loaded_{}", t.name())).await?;
            let name = format!("remaining_{}", t.name());
            ctx.deregister_table(&name)?;
            ctx.register_table(&name, remaining.into_view())?;
            let sql = DUPLICATES
                .replace("{table}", t.name())
                .replace("{key}", key)
                .replace("{file}", t.file_name());
            rejected.extend(findings(ctx, &sql, t, Some(Rule::KeyDuplicate)).await?);
        }
        register_loaded(ctx, t, &rejected).await?;
        all.extend(rejected);
        if t == Table::Persons {
            all.extend(findings(ctx, HOUSEHOLD_WARNINGS, Table::Households, None).await?);
        }
    }
    Ok(all)
}
