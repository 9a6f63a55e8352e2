//! Cross-row rules over the staged data of a run, in SQL on DataFusion (the statements are in
//! `queries/ingest/`; `staged_<table>` is the table's staged checks files, the columns those
//! statements read): orphans with their cascade (a rejected county rejects its townships,
//! their villages, households and persons), duplicate keys nationally (also against the
//! provinces already in the warehouse), the links of the exit-assessment sample, and the
//! household warnings.
//!
//! Tables are checked parents first. For each table, orphans are found against the *loaded*
//! rows of its parent, then duplicate keys among the rows that remain. `loaded_<table>` is a
//! view: the staged rows minus this stage's rejects (a filter on their lines, held in memory:
//! rejects are few), so no row is materialized in memory and the memory pool bounds every join
//! and aggregate (they spill).
//!
//! The orphans, the sample's links and the household warnings run a province at a time
//! (`by_province`), the duplicate keys nationally, in two steps (`duplicates`): the repeated
//! keys (sorted in memory when their codes fit the pool, else an aggregate that spills), then
//! their occurrences, ranked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::stage::checked_schema;
use crate::contract::rules::Rule;
use crate::contract::schema::{Table, arrow_schema};
use crate::engine::{EngineConfig, JoinStrategy, with_optimizer};
use crate::warehouse::{DataFile, Warehouse};

const ORPHAN_TOWNSHIPS: &str = include_str!("../../queries/ingest/orphan_townships.sql");
const ORPHAN_VILLAGES: &str = include_str!("../../queries/ingest/orphan_villages.sql");
const ORPHAN_HOUSEHOLDS: &str = include_str!("../../queries/ingest/orphan_households.sql");
const ORPHAN_PERSONS: &str = include_str!("../../queries/ingest/orphan_persons.sql");
const KEY_CANDIDATES: &str = include_str!("../../queries/ingest/key_candidates.sql");
const DUPLICATE_KEYS: &str = include_str!("../../queries/ingest/duplicate_keys.sql");
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
    /// Staged files of this run, by province code.
    pub staged: &'a BTreeMap<String, StagedProvince>,
    /// The warehouse and the current files of the provinces not in this run.
    pub warehouse: &'a Warehouse,
    pub existing: &'a BTreeMap<Table, Vec<DataFile>>,
    /// The run's engine settings, before any choice of joins: each province's checks, and
    /// the duplicates' join, choose theirs by their own size.
    pub engine: &'a EngineConfig,
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
        let options = ListingOptions::new(Arc::new(ArrowFormat))
            .with_file_extension(super::stage::STAGED_EXTENSION);
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        Arc::new(ListingTable::try_new(config)?)
    };
    replace_table(ctx, name, provider)
}

/// Register `table` as `name` in `ctx`, in place of any table of that name.
fn replace_table(
    ctx: &SessionContext,
    name: &str,
    table: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<(), DataFusionError> {
    ctx.deregister_table(name)?;
    ctx.register_table(name, table)?;
    Ok(())
}

/// The (province, line) pairs of one table's rejected rows, as the SQL function
/// `rejected_<table>(province_code, _line)`: true for a rejected row. The rejects of a run are
/// few next to its rows, so they are held in memory and the staged rows stream past them; a
/// join here would sort every staged row (all columns) only to drop a handful.
#[derive(Debug)]
struct RejectedLines {
    name: String,
    lines: HashMap<String, HashSet<i64>>,
    signature: Signature,
}

impl PartialEq for RejectedLines {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.lines == other.lines
    }
}

impl Eq for RejectedLines {}

impl std::hash::Hash for RejectedLines {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.lines.len().hash(state);
    }
}

impl ScalarUDFImpl for RejectedLines {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType, DataFusionError> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue, DataFusionError> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [province, line] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{} takes (province_code, _line)",
                self.name
            )));
        };
        let province = crate::engine::utf8(province)?;
        let line = crate::engine::int64(line)?;
        let out: BooleanArray = (0..province.len())
            .map(|i| {
                Some(
                    !province.is_null(i)
                        && !line.is_null(i)
                        && self
                            .lines
                            .get(province.value(i))
                            .is_some_and(|l| l.contains(&line.value(i))),
                )
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Register the view `loaded_<t>`: the staged rows of `t` minus the rejected ones (errors, not
/// warnings) among `rejected`.
async fn register_loaded<'a>(
    ctx: &SessionContext,
    t: Table,
    rejected: impl IntoIterator<Item = &'a CrossFinding>,
) -> Result<(), DataFusionError> {
    let mut lines: HashMap<String, HashSet<i64>> = HashMap::new();
    for f in rejected
        .into_iter()
        .filter(|f| f.table == t && f.rule.severity() == crate::contract::rules::Severity::Error)
    {
        lines
            .entry(f.province.clone())
            .or_default()
            .insert(f.line as i64);
    }
    let view = if lines.is_empty() {
        format!("SELECT * FROM staged_{t}", t = t.name())
    } else {
        let udf = RejectedLines {
            name: format!("rejected_{}", t.name()),
            lines,
            signature: Signature::any(2, Volatility::Immutable),
        };
        ctx.register_udf(ScalarUDF::new_from_impl(udf));
        format!(
            "SELECT * FROM staged_{t} WHERE NOT rejected_{t}(province_code, _line)",
            t = t.name()
        )
    };
    let df = ctx.sql(&view).await?;
    replace_table(ctx, &format!("loaded_{}", t.name()), df.into_view())
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

/// Run one rule query: its columns are province_code, _line, record_key, (rule_id,)
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
        let lines = crate::engine::int64(line)?;
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

/// The staged files of one province of a run.
#[derive(Debug, Default)]
pub struct StagedProvince {
    /// One staged checks file per table the province submitted.
    pub files: BTreeMap<Table, PathBuf>,
    /// Its staged person rows: the size of its largest checks.
    pub persons: u64,
}

/// Run every cross-row rule. Returns the findings (errors reject the row; warnings flag it).
///
/// The orphan checks, the assessment links and the household warnings join codes that all
/// begin with the province's code (rule `code.province` rejects a staged row otherwise), so
/// they run a province at a time, each in a session of its own sized to the province (hash
/// joins where they fit), sharing `ctx`'s memory pool. Duplicate keys are national: ID
/// numbers do not carry the province.
pub async fn check(
    ctx: &SessionContext,
    input: &CrossInput<'_>,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<CrossFinding>, DataFusionError> {
    read_files_whole(ctx);
    for t in Table::ALL {
        let files: Vec<PathBuf> = input
            .staged
            .values()
            .filter_map(|p| p.files.get(&t).cloned())
            .collect();
        register_local(
            ctx,
            &format!("staged_{}", t.name()),
            checked_schema(t),
            &files,
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
        let start = std::time::Instant::now();
        progress.set_message(format!("{}: orphans", t.file_name()));
        // The orphan rule of each table (the sample's links for the assessment households).
        let orphans = match t {
            Table::Counties => None,
            Table::Townships => Some((ORPHAN_TOWNSHIPS, Some(Rule::KeyOrphan))),
            Table::Villages => Some((ORPHAN_VILLAGES, Some(Rule::KeyOrphan))),
            Table::Households => Some((ORPHAN_HOUSEHOLDS, Some(Rule::KeyOrphan))),
            Table::Persons => Some((ORPHAN_PERSONS, Some(Rule::KeyOrphan))),
            Table::AssessmentHouseholds => Some((ASSESSMENT_LINKS, None)),
        };
        let mut rejected: Vec<CrossFinding> = match orphans {
            Some((sql, rule)) => by_province(ctx, input, &all, sql, t, rule).await?,
            None => Vec::new(),
        };
        if let Some(key) = t.key_column() {
            progress.set_message(format!("{}: duplicate keys", t.file_name()));
            let repeated = duplicates(ctx, input.engine, t, key, &rejected).await?;
            rejected.extend(repeated);
        }
        register_loaded(ctx, t, &rejected).await?;
        all.extend(rejected);
        if t == Table::Persons {
            progress.set_message("households.csv: members and heads".to_string());
            let warnings = by_province(
                ctx,
                input,
                &all,
                HOUSEHOLD_WARNINGS,
                Table::Households,
                None,
            )
            .await?;
            all.extend(warnings);
        }
        tracing::info!(
            table = t.name(),
            seconds = crate::engine::progress::seconds(start),
            "cross-row checks done"
        );
        progress.inc(1);
    }
    Ok(all)
}

/// Run a rule query over each province of the run on its own: `staged_<t>` and `loaded_<t>`
/// of every table hold that province's rows (minus the errors among its findings in
/// `so_far`). The findings come in (province, line, rule) order, as one query over all
/// provinces would give them. Two provinces run at once ([`PROVINCES_AT_ONCE`]): at scale 0.1
/// one at a time kept about 1.4 of the 2 cores busy, two about 1.75. (One query over all
/// provinces with hash joins, at scale 0.1, where they fit, was no faster: the persons' checks
/// 2.40 s against 2.25 s, and the ingest's peak 1.23 GiB against 0.54.)
async fn by_province(
    ctx: &SessionContext,
    input: &CrossInput<'_>,
    so_far: &[CrossFinding],
    sql: &str,
    table: Table,
    fixed_rule: Option<Rule>,
) -> Result<Vec<CrossFinding>, DataFusionError> {
    use futures::StreamExt as _;
    let start = std::time::Instant::now();
    let provinces = input
        .staged
        .iter()
        .filter(|(_, p)| p.files.contains_key(&table))
        .map(|(code, province)| {
            let cfg = input.engine.clone().for_rows(province.persons);
            let pctx = crate::engine::sibling_session(ctx, &cfg);
            let mine: Vec<&CrossFinding> = so_far.iter().filter(|f| &f.province == code).collect();
            async move {
                read_files_whole(&pctx);
                for t in Table::ALL {
                    let files: Vec<PathBuf> = province.files.get(&t).cloned().into_iter().collect();
                    register_local(
                        &pctx,
                        &format!("staged_{}", t.name()),
                        checked_schema(t),
                        &files,
                    )?;
                    register_loaded(&pctx, t, mine.iter().copied()).await?;
                }
                findings(&pctx, sql, table, fixed_rule).await
            }
        });
    let at_once = PROVINCES_AT_ONCE.min(input.engine.threads.max(1));
    let mut runs = futures::stream::iter(provinces).buffered(at_once);
    let mut out = Vec::new();
    while let Some(found) = runs.next().await {
        out.extend(found?);
    }
    tracing::debug!(
        table = table.name(),
        rule = fixed_rule.map_or("several", |r| r.id()),
        seconds = crate::engine::progress::seconds(start),
        "rule run a province at a time"
    );
    Ok(out)
}

/// How many provinces' rule queries run at once (at most one per thread): a province's queries
/// are small next to the fixed costs of planning and starting them, which a second province's
/// work overlaps.
const PROVINCES_AT_ONCE: usize = 2;

/// Duplicate keys of table `t` nationally, among its staged rows that are not `orphans` and
/// the warehouse's rows of the other provinces: first the keys that occur more than once (an
/// aggregate, which spills), then the occurrences of just those keys, ranked. Both group and
/// join the keys' exact integer codes (`key_code`), not the strings. The repeated keys are
/// held in memory (like every finding) and joined by hash while they fit; the staged rows
/// stream past them.
async fn duplicates(
    ctx: &SessionContext,
    engine: &EngineConfig,
    t: Table,
    key: &str,
    orphans: &[CrossFinding],
) -> Result<Vec<CrossFinding>, DataFusionError> {
    let start = std::time::Instant::now();
    let values = [("table", t.name()), ("key", key), ("file", t.file_name())];
    // remaining_<t>: the staged rows that are not orphans.
    register_loaded(ctx, t, orphans).await?;
    let remaining = ctx.table(format!("loaded_{}", t.name())).await?;
    replace_table(
        ctx,
        &format!("remaining_{}", t.name()),
        remaining.into_view(),
    )?;
    let candidates = ctx
        .sql(&crate::engine::fill(KEY_CANDIDATES, values))
        .await?;
    replace_table(
        ctx,
        &format!("candidates_{}", t.name()),
        candidates.into_view(),
    )?;
    // `--joins spill` keeps to the spilling aggregate, as to sort-merge joins.
    let in_memory = match engine.joins {
        JoinStrategy::Spill => None,
        JoinStrategy::Auto | JoinStrategy::Hash => {
            repeated_codes_in_memory(ctx, t, engine.threads).await?
        }
    };
    let keys = match in_memory {
        Some(keys) => keys,
        None => {
            ctx.sql(&crate::engine::fill(DUPLICATE_KEYS, values))
                .await?
                .collect()
                .await?
        }
    };
    let repeated: usize = keys.iter().map(|b| b.num_rows()).sum();
    tracing::debug!(
        table = t.name(),
        repeated,
        seconds = crate::engine::progress::seconds(start),
        "repeated keys found"
    );
    if repeated == 0 {
        return Ok(Vec::new());
    }
    let schema = keys
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| DataFusionError::Internal("repeated keys without a batch".into()))?;
    let name = format!("repeated_{}", t.name());
    replace_table(ctx, &name, Arc::new(MemTable::try_new(schema, vec![keys])?))?;
    let joins = engine.clone().for_rows(repeated as u64).joins;
    let hash = joins != JoinStrategy::Spill;
    let before = with_optimizer(ctx, |o| std::mem::replace(&mut o.prefer_hash_join, hash));
    let found = findings(
        ctx,
        &crate::engine::fill(DUPLICATES, values),
        t,
        Some(Rule::KeyDuplicate),
    )
    .await;
    with_optimizer(ctx, |o| o.prefer_hash_join = before);
    ctx.deregister_table(&name)?;
    tracing::debug!(
        table = t.name(),
        seconds = crate::engine::progress::seconds(start),
        "duplicate keys ranked"
    );
    found
}

/// The codes that occur more than once among `candidates_<t>` (what duplicate_keys.sql
/// gives), found in memory when the pool grants the parts' capacity (8 bytes a candidate, up
/// to twice that as the parts grow), else None (and the aggregate of duplicate_keys.sql, which
/// spills, runs instead, as it does under `--joins spill`). The codes are dealt by a hash of
/// their value into one part per thread, so equal codes meet in the same part; each part is
/// sorted on its own thread and its repeats read off. Nationally (56.7 M persons,
/// `--memory-limit 3GiB`) the aggregate took 7.9 s, spilling its 56.7 M groups eleven times,
/// and this 1.6 s; the codes alone are 454 MB.
async fn repeated_codes_in_memory(
    ctx: &SessionContext,
    t: Table,
    threads: usize,
) -> Result<Option<Vec<arrow::record_batch::RecordBatch>>, DataFusionError> {
    use datafusion::execution::memory_pool::MemoryConsumer;
    use futures::StreamExt as _;
    let parts = threads.clamp(1, 64);
    let reservation = MemoryConsumer::new(format!("repeated {} keys", t.name()))
        .register(&ctx.runtime_env().memory_pool);
    let mut stream = ctx
        .table(format!("candidates_{}", t.name()))
        .await?
        .select_columns(&["key_code"])?
        .execute_stream()
        .await?;
    let mut dealt: Vec<Vec<i64>> = vec![Vec::new(); parts];
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let Some(codes) = batch
            .column(0)
            .as_primitive_opt::<arrow::datatypes::Int64Type>()
        else {
            return Err(DataFusionError::Internal(
                "key codes that are not 64-bit integers".into(),
            ));
        };
        // A NULL code (no key) repeats no key: the rows' join on the code never matches it.
        for code in codes.iter().flatten() {
            dealt[part_of(code, parts)].push(code);
        }
        let held: usize = dealt.iter().map(|d| d.capacity() * 8).sum();
        if reservation.try_resize(held).is_err() {
            return Ok(None);
        }
    }
    let repeated = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            let sorting: Vec<_> = dealt
                .iter_mut()
                .map(|part| s.spawn(move || repeats(part)))
                .collect();
            sorting
                .into_iter()
                .map(|h| {
                    h.join().map_err(|_| {
                        DataFusionError::Internal("a thread sorting key codes failed".into())
                    })
                })
                .collect::<Result<Vec<Vec<i64>>, _>>()
        })
    })
    .await
    .map_err(|e| DataFusionError::External(Box::new(e)))??;
    drop(reservation);
    let mut codes: Vec<i64> = repeated.into_iter().flatten().collect();
    codes.sort_unstable();
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("key_code", DataType::Int64, true),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema,
        vec![Arc::new(arrow::array::Int64Array::from(codes))],
    )?;
    Ok(Some(vec![batch]))
}

/// Which of `parts` parts a code goes to: a multiplicative hash, so that codes of one area or
/// county spread over the parts.
fn part_of(code: i64, parts: usize) -> usize {
    let mixed = (code as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((u128::from(mixed) * parts as u128) >> 64) as usize
}

/// The values that occur more than once in `codes` (sorted in place), each once.
fn repeats(codes: &mut [i64]) -> Vec<i64> {
    codes.sort_unstable();
    let mut out = Vec::new();
    for (i, pair) in codes.windows(2).enumerate() {
        if pair[0] == pair[1] && (i == 0 || codes[i - 1] != pair[0]) {
            out.push(pair[0]);
        }
    }
    out
}

/// Have `ctx` read each staged file whole, batch by batch, in one partition. DataFusion 55
/// reads a byte range of an Arrow IPC file (what splitting a file across partitions makes) by
/// loading every batch of the range at once: the national ingest then peaked at 3.9 GiB
/// instead of 2.2 GiB.
fn read_files_whole(ctx: &SessionContext) {
    crate::engine::with_optimizer(ctx, |o| o.repartition_file_scans = false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;

    fn finding(province: &str, line: u64, rule: Rule) -> CrossFinding {
        CrossFinding {
            table: Table::Persons,
            province: province.to_string(),
            line,
            record_key: None,
            rule,
            column: None,
            message: String::new(),
        }
    }

    /// `loaded_<t>` drops exactly the rows rejected by an error rule, matched on both province
    /// and line (string view columns, as the staged Parquet files are read), and keeps rows
    /// that only carry a warning.
    #[tokio::test]
    async fn loaded_rows_are_the_staged_rows_minus_the_errors() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("province_code", DataType::Utf8View, false),
            Field::new("_line", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringViewArray::from(vec!["11", "11", "11", "12", "12"])),
                Arc::new(Int64Array::from(vec![2, 3, 4, 2, 3])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        ctx.register_table(
            "staged_persons",
            Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()),
        )
        .unwrap();
        let lines = |ctx: SessionContext| async move {
            let batches = ctx
                .sql("SELECT province_code || ':' || CAST(_line AS VARCHAR) AS k FROM loaded_persons ORDER BY k")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let mut out = Vec::new();
            for b in &batches {
                for i in 0..b.num_rows() {
                    out.push(string_at(b.column(0).as_ref(), i).unwrap());
                }
            }
            out
        };

        register_loaded(&ctx, Table::Persons, &[] as &[CrossFinding])
            .await
            .unwrap();
        assert_eq!(
            lines(ctx.clone()).await,
            ["11:2", "11:3", "11:4", "12:2", "12:3"]
        );

        let rejected = [
            finding("11", 3, Rule::KeyOrphan),
            finding("12", 2, Rule::KeyDuplicate),
            finding("11", 4, Rule::HouseholdSizeMismatch),
        ];
        register_loaded(&ctx, Table::Persons, &rejected)
            .await
            .unwrap();
        assert_eq!(lines(ctx.clone()).await, ["11:2", "11:4", "12:3"]);
    }

    #[test]
    fn repeats_are_the_values_seen_more_than_once_each_once() {
        let mut codes = vec![5, -3, 7, 5, 9, -3, 5, 0, 11, -1];
        assert_eq!(repeats(&mut codes), [-3, 5]);
        assert_eq!(repeats(&mut []), Vec::<i64>::new());
        assert_eq!(repeats(&mut [4]), Vec::<i64>::new());
        assert_eq!(repeats(&mut [4, 4, 4, 4]), [4]);
        for parts in [1, 2, 3, 8] {
            assert!((-1000..1000).all(|c| part_of(c, parts) < parts));
            assert!(
                [i64::MIN, i64::MAX]
                    .iter()
                    .all(|&c| part_of(c, parts) < parts)
            );
        }
    }

    /// The repeated codes found in memory are those of duplicate_keys.sql; a pool that cannot
    /// hold the codes leaves the work to that SQL.
    #[tokio::test]
    async fn repeated_codes_in_memory_are_those_of_the_sql() {
        use datafusion::execution::memory_pool::GreedyMemoryPool;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "key_code",
            DataType::Int64,
            true,
        )]));
        // 20 000 codes in two batches: 7 of them repeated (one 3 times), and NULLs.
        let mut codes: Vec<Option<i64>> = (0..20_000).map(|i| Some(i * 7919 - 50_000)).collect();
        for (at, from) in [
            (10, 3),
            (500, 3),
            (19_999, 12_345),
            (7, 8),
            (9_000, 40),
            (100, 101),
            (200, 201),
            (300, 301),
        ] {
            codes[at] = codes[from];
        }
        codes[42] = None;
        codes[43] = None;
        let batches: Vec<RecordBatch> = codes
            .chunks(10_000)
            .map(|c| {
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(Int64Array::from(c.to_vec()))],
                )
                .unwrap()
            })
            .collect();
        let session = |pool: usize| {
            let rt = RuntimeEnvBuilder::new()
                .with_memory_pool(Arc::new(GreedyMemoryPool::new(pool)))
                .build_arc()
                .unwrap();
            let ctx = SessionContext::new_with_config_rt(Default::default(), rt);
            ctx.register_table(
                "candidates_persons",
                Arc::new(MemTable::try_new(Arc::clone(&schema), vec![batches.clone()]).unwrap()),
            )
            .unwrap();
            ctx
        };
        let ctx = session(64 << 20);
        let found = repeated_codes_in_memory(&ctx, Table::Persons, 2)
            .await
            .unwrap()
            .unwrap();
        let found: Vec<i64> = found[0]
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec();
        let sql = crate::engine::fill(
            DUPLICATE_KEYS,
            [
                ("table", "persons"),
                ("key", "person_id"),
                ("file", "persons.csv"),
            ],
        );
        let mut want: Vec<i64> = Vec::new();
        for b in ctx.sql(&sql).await.unwrap().collect().await.unwrap() {
            want.extend(
                b.column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .iter()
                    .flatten(),
            );
        }
        want.sort_unstable();
        assert_eq!(found.len(), 7);
        assert_eq!(found, want);
        assert!(
            repeated_codes_in_memory(&session(16 << 10), Table::Persons, 2)
                .await
                .unwrap()
                .is_none()
        );
    }
}
