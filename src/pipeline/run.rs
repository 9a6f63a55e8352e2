//! Running a checked pipeline over a warehouse snapshot, as phases: the session (warehouse
//! tables, `ref_provinces`, the estimators' functions), each step in order (SQL or built-in,
//! kept as a view or a table, written when it is an output), and the run manifest. A failed
//! step is reported with what can explain it ([`step_failure`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::Array;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PipelineError;
use super::builtins::{ref_provinces, unpivot_indicators};
use super::kept::{Kept, KeptError, KeptSink, KeptTables};
use super::spec::{Builtin, Pipeline, Step, StepKind};
use crate::engine::cluster::{SharedScratch, untravelled_table};
use crate::engine::{EngineConfig, JoinStrategy, Started, session};
use crate::output::{OutputFile, OutputWriter, StagedDir};
use crate::warehouse::{Snapshot, Warehouse};

/// Loaded values at or beyond this magnitude are named when a step overflows: no census
/// quantity (yuan, weights) comes near it.
const SUSPECT_MAGNITUDE: f64 = 1e12;

/// The error of a step that failed (`what`: its SQL file or built-in). For an arithmetic
/// overflow (or a value too large for a decimal), the float columns of the
/// warehouse tables are searched for the values that can cause it, per province.
async fn step_failure(
    ctx: &SessionContext,
    step: &Step,
    what: &str,
    e: DataFusionError,
) -> PipelineError {
    let message = e.to_string();
    let mut suspects = Vec::new();
    let lower = message.to_ascii_lowercase();
    let arithmetic = ["overflow", "too large", "decimal"]
        .iter()
        .any(|w| lower.contains(w));
    if arithmetic {
        for t in crate::contract::schema::Table::ALL {
            let schema = crate::contract::schema::arrow_schema(t);
            for f in schema.fields() {
                if f.data_type() != &DataType::Float64 {
                    continue;
                }
                let sql = format!(
                    "SELECT province_code, MAX(ABS(\"{c}\")) AS m, \
                     SUM(CASE WHEN isnan(\"{c}\") THEN 1 ELSE 0 END) AS nans \
                     FROM \"{t}\" GROUP BY province_code ORDER BY province_code",
                    c = f.name(),
                    t = t.name()
                );
                let Ok(df) = ctx.sql(&sql).await else {
                    continue;
                };
                let Ok(batches) = df.collect().await else {
                    continue;
                };
                for b in &batches {
                    let (Ok(p), Ok(m), Ok(n)) = (
                        crate::engine::utf8(b.column(0).as_ref()),
                        crate::engine::float64(b.column(1).as_ref()),
                        crate::engine::int64(b.column(2).as_ref()),
                    ) else {
                        continue;
                    };
                    for i in 0..b.num_rows() {
                        let big = m.is_valid(i)
                            && (!m.value(i).is_finite() || m.value(i) >= SUSPECT_MAGNITUDE);
                        let nan = n.is_valid(i) && n.value(i) > 0;
                        if big || nan {
                            suspects.push(format!(
                                "table {}, column {}, province {}: {}",
                                t.name(),
                                f.name(),
                                p.value(i),
                                if big {
                                    format!("|value| up to {:e}", m.value(i))
                                } else {
                                    "NaN".to_string()
                                }
                            ));
                        }
                    }
                }
            }
        }
    }
    PipelineError::StepFailed {
        step: step.name.clone(),
        file: what.to_string(),
        message,
        suspects,
    }
}

/// Run a pipeline into `out` as a whole: the outputs are written beside it and moved into
/// place only when every step succeeded (see [`StagedDir`]).
pub async fn run_into(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    snapshot: Option<&Snapshot>,
    out: &Path,
    engine: &EngineConfig,
) -> Result<RunManifest, PipelineError> {
    let staged = StagedDir::new(out, "run_manifest.json")?;
    let manifest = run(pipeline, warehouse, snapshot, staged.path(), engine).await?;
    staged.commit()?;
    Ok(manifest)
}

/// What a run read and wrote (`OUT/run_manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub tool: String,
    pub warehouse: String,
    pub snapshot: Option<u64>,
    /// Province code → (version, submission_id, content_sha256) read.
    pub provinces: BTreeMap<String, (u32, String, String)>,
    /// Department id → (version, submission_id, content_sha256) of the registers in the
    /// snapshot (registers.md; absent when there are none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub departments: BTreeMap<String, (u32, String, String)>,
    pub parameters: BTreeMap<String, String>,
    /// SQL file → SHA-256.
    pub queries: BTreeMap<String, String>,
    pub outputs: Vec<OutputFile>,
}

/// The schema of a step's result: its batches' (which may differ from the plan's in details
/// such as nullability), or the plan's when there is no batch, so that a result without rows
/// keeps its columns.
fn batches_schema(batches: &[RecordBatch], planned: SchemaRef) -> SchemaRef {
    batches.first().map_or(planned, RecordBatch::schema)
}

/// The error of a step that failed in the engine (not to be explained further).
fn step_err(step: &str) -> impl FnOnce(DataFusionError) -> PipelineError + use<> {
    let step = step.to_string();
    move |source| PipelineError::Step { step, source }
}

/// Run a pipeline over a warehouse snapshot and write its outputs into `out`.
pub async fn run(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    snapshot: Option<&Snapshot>,
    out: &Path,
    engine: &EngineConfig,
) -> Result<RunManifest, PipelineError> {
    let (ctx, scratch) = prepare(warehouse, snapshot, out, engine).await?;
    crate::engine::with_optimizer(&ctx, |o| {
        o.enable_join_dynamic_filter_pushdown = pipeline.join_filters_in_scans
    });
    let executors = executors_now(engine, "session").await?;
    let pool = Arc::clone(&ctx.runtime_env().memory_pool);
    let mut kept = KeptTables::new(&pool, engine.kept_memory, engine.spill_dir.clone());
    let mut results: BTreeMap<String, Kept> = BTreeMap::new();
    let mut outputs = Vec::new();
    let mut queries = BTreeMap::new();
    let by_province = runs_by_province(snapshot, engine, scratch.is_some());
    let shared = if by_province || scratch.is_some() || snapshot.is_none() {
        BTreeSet::new()
    } else {
        shared_views(pipeline)
    };
    for step in &pipeline.steps {
        let start = std::time::Instant::now();
        if let StepKind::Sql { file, text } = &step.kind {
            queries.insert(file.clone(), hex::encode(Sha256::digest(text.as_bytes())));
        }
        let on_cluster = scratch.is_some();
        let work = async {
            match &step.kind {
                StepKind::Sql { file, text } => {
                    let sql = SqlStep {
                        ctx: &ctx,
                        pipeline,
                        step,
                        file,
                        text,
                        on_cluster,
                        warehouse,
                        snapshot,
                        engine,
                        by_province: by_province && step.by_province,
                        keep: shared.contains(step.name.as_str()),
                    };
                    sql.run(&mut kept, out).await
                }
                StepKind::Builtin(Builtin::UnpivotIndicators) => {
                    let (schema, batches) = run_unpivot(&ctx, step, &results, on_cluster).await?;
                    let mut result = StepResult::new(&mut kept, step, out, schema);
                    for b in batches {
                        result.push(b)?;
                    }
                    Ok(Some(result.finish()?))
                }
            }
        };
        let result = match &engine.cluster {
            None => work.await?,
            Some(cluster) => tokio::select! {
                result = work => match result {
                    Ok(result) => result,
                    Err(e) => return Err(on_cluster_failure(engine, executors, &step.name, e).await),
                },
                lost = crate::engine::cluster::watch_for_executor_loss(&cluster.scheduler, executors) => {
                    return Err(PipelineError::Cluster { step: step.name.clone(), source: lost });
                }
            },
        };
        check_executors(engine, executors, &step.name).await?;
        if let Some((table, files)) = result {
            match &table {
                Kept::File { .. } => {
                    tracing::info!(step = %step.name, "result kept in a scratch file (beyond the memory for kept results)");
                }
                Kept::Memory { batches, .. } => {
                    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                    let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
                    tracing::debug!(step = %step.name, rows, bytes, "result kept in memory");
                }
            }
            keep(&ctx, scratch.as_ref(), &step.name, &table).await?;
            outputs.extend(files);
            results.insert(step.name.clone(), table);
        }
        tracing::info!(step = %step.name, seconds = crate::engine::progress::seconds(start), "step done");
    }
    if let Some(scratch) = scratch {
        scratch.remove().await;
    }
    let manifest = RunManifest::new(pipeline, warehouse, snapshot, queries, outputs);
    manifest.write(out)?;
    Ok(manifest)
}

/// Whether this run's `by_province` steps run a province at a time: the whole census would
/// be joined by sort-merge joins (too large for hash joins in half the pool, or `--joins
/// spill`), and the run is not on a cluster, whose executors share the work out. Measured at
/// national size: 21.0 s a province at a time, 23.1 s in groups of provinces as large as fit
/// for hash joins, 30.6 s over the whole census; at scale 0.1, 3.95 s a province at a time
/// against 2.34 s at once.
fn runs_by_province(snapshot: Option<&Snapshot>, engine: &EngineConfig, on_cluster: bool) -> bool {
    !on_cluster
        && snapshot.is_some_and(|s| engine.joins_for(s.rows("persons")) == JoinStrategy::Spill)
}

/// The views two or more table steps read. A run of a census small enough for hash joins
/// (a view of it then fits in the memory for kept results, or nearly; and no step runs by
/// province, which would define the views again over each province's tables), not on a
/// cluster, computes them once and keeps them rather than computing them again for each
/// reader. The census' household facts, read by the county sums and the village exits: at
/// scale 0.1, `povcensus run census` 2.27 s → 1.83 s, the same bytes out.
fn shared_views(pipeline: &Pipeline) -> BTreeSet<&str> {
    pipeline
        .steps
        .iter()
        .filter(|view| view.is_view() && pipeline.readers_of(view).len() >= 2)
        .map(|view| view.name.as_str())
        .collect()
}

/// The error of a result that could not be kept in, or read back from, its scratch file.
fn kept_err(step: &str) -> impl FnOnce(KeptError) -> PipelineError + use<> {
    let step = step.to_string();
    move |source| PipelineError::Kept { step, source }
}

/// Make a step's result table `name` for the steps after it: where it is kept (in memory or
/// a scratch file), or on a cluster as Parquet in the shared scratch.
async fn keep(
    ctx: &SessionContext,
    scratch: Option<&SharedScratch>,
    name: &str,
    table: &Kept,
) -> Result<(), PipelineError> {
    if let Some(scratch) = scratch {
        let batches = table.batches().map_err(kept_err(name))?;
        return scratch
            .register(ctx, name, table.schema(), &batches)
            .await
            .map_err(|source| PipelineError::Cluster {
                step: name.to_string(),
                source,
            });
    }
    table.register(ctx, name).map_err(step_err(name))
}

/// On a cluster, refuse a plan that reads a table the executors cannot read, before it is
/// submitted.
fn check_travel(step: &str, plan: &LogicalPlan, on_cluster: bool) -> Result<(), PipelineError> {
    match untravelled_table(plan) {
        Some(table) if on_cluster => Err(PipelineError::CannotTravel {
            step: step.to_string(),
            table,
        }),
        _ => Ok(()),
    }
}

/// On a cluster, the executors registered now.
async fn executors_now(engine: &EngineConfig, step: &str) -> Result<u64, PipelineError> {
    let Some(cluster) = &engine.cluster else {
        return Ok(0);
    };
    crate::engine::cluster::executor_count(&cluster.scheduler)
        .await
        .map_err(|source| PipelineError::Cluster {
            step: step.to_string(),
            source,
        })
}

/// The error of a step that failed on a cluster: an executor lost during it (the scheduler
/// cancels the job, a task cannot fetch the lost executor's results, or fewer executors are
/// counted than at the start) is said as such, since
/// the next step for the user is a rerun, not a look at the SQL.
async fn on_cluster_failure(
    engine: &EngineConfig,
    before: u64,
    step: &str,
    error: PipelineError,
) -> PipelineError {
    if let Err(lost) = check_executors(engine, before, step).await {
        return lost;
    }
    let message = match &error {
        PipelineError::Step { source, .. } => source.to_string(),
        PipelineError::StepFailed { message, .. } => message.clone(),
        _ => return error,
    };
    match engine
        .cluster
        .as_ref()
        .and_then(|c| c.executor_loss(&message))
    {
        Some(source) => PipelineError::Cluster {
            step: step.to_string(),
            source,
        },
        None => error,
    }
}

/// On a cluster, refuse a step's result when an executor left during the run (Ballista's
/// re-run of lost tasks has been seen to count rows twice).
async fn check_executors(
    engine: &EngineConfig,
    before: u64,
    step: &str,
) -> Result<(), PipelineError> {
    let Some(cluster) = &engine.cluster else {
        return Ok(());
    };
    crate::engine::cluster::check_no_executor_lost(&cluster.scheduler, before)
        .await
        .map_err(|source| PipelineError::Cluster {
            step: step.to_string(),
            source,
        })
}

/// The session of a run: the snapshot's tables, `ref_provinces` and the estimators' SQL
/// functions (survey_variance, t_quantile) for the assessment steps; and the output folder.
/// On a cluster, the shared scratch too, holding the tables that were in memory.
async fn prepare(
    warehouse: &Warehouse,
    snapshot: Option<&Snapshot>,
    out: &Path,
    engine: &EngineConfig,
) -> Result<(SessionContext, Option<SharedScratch>), PipelineError> {
    let persons: u64 = snapshot.map_or(0, |s| s.rows("persons"));
    let engine = engine.clone().for_rows(persons);
    let ctx = session(&engine).map_err(step_err("session"))?;
    provide(&ctx, warehouse, snapshot)?;
    std::fs::create_dir_all(out).map_err(|e| PipelineError::Write {
        path: out.display().to_string(),
        source: e.into(),
    })?;
    let scratch = match engine.cluster {
        Some(_) => {
            let l = &warehouse.location;
            let scratch = SharedScratch::new(Arc::clone(&l.store), l.store_url.clone(), &l.prefix);
            scratch
                .ship_in_memory_tables(&ctx)
                .await
                .map_err(|source| PipelineError::Cluster {
                    step: "session".into(),
                    source,
                })?;
            Some(scratch)
        }
        None => None,
    };
    Ok((ctx, scratch))
}

/// What the steps of a run read besides each other: the snapshot's tables, `ref_provinces`
/// and the estimators' SQL functions.
fn provide(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    snapshot: Option<&Snapshot>,
) -> Result<(), PipelineError> {
    crate::assessment::register(ctx);
    warehouse.register(ctx, snapshot)?;
    let refs = ref_provinces().map_err(|e| step_err("ref_provinces")(e.into()))?;
    ctx.register_table(
        "ref_provinces",
        Arc::new(
            MemTable::try_new(refs.schema(), vec![vec![refs]])
                .map_err(step_err("ref_provinces"))?,
        ),
    )
    .map_err(step_err("ref_provinces"))?;
    Ok(())
}

/// A SQL step of a run.
struct SqlStep<'a> {
    ctx: &'a SessionContext,
    pipeline: &'a Pipeline,
    step: &'a Step,
    file: &'a str,
    text: &'a str,
    on_cluster: bool,
    warehouse: &'a Warehouse,
    snapshot: Option<&'a Snapshot>,
    engine: &'a EngineConfig,
    /// Run a province at a time ([`runs_by_province`]).
    by_province: bool,
    /// A view kept all the same ([`shared_views`]).
    keep: bool,
}

impl SqlStep<'_> {
    /// Registered as a view (`None`), or, when it is materialized, an output or a view this
    /// run keeps, run: its rows kept as they stream in, and written to `out` as they come when
    /// it is an output.
    async fn run(
        &self,
        kept: &mut KeptTables,
        out: &Path,
    ) -> Result<Option<(Kept, Vec<OutputFile>)>, PipelineError> {
        let (ctx, step) = (self.ctx, self.step);
        let df = match ctx.sql(&self.pipeline.sql_of(self.text)).await {
            Ok(df) => df,
            Err(e) => return Err(step_failure(ctx, step, &self.what(), e).await),
        };
        if !(step.materialize || step.output || self.keep) {
            ctx.register_table(step.name.as_str(), df.into_view())
                .map_err(step_err(&step.name))?;
            return Ok(None);
        }
        if self.keep {
            tracing::info!(step = %step.name, "a view several steps read: computed once and kept");
        }
        check_travel(&step.name, df.logical_plan(), self.on_cluster)?;
        // The plan's schema, not the first batch's: a result without rows keeps its columns
        // (for later steps and for the output files).
        let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let mut result = StepResult::new(kept, step, out, planned);
        let provinces = match self.snapshot {
            Some(s) if self.by_province => s.provinces_alone(),
            _ => Vec::new(),
        };
        if provinces.is_empty() {
            let started = self.start(ctx, df).await?;
            self.stream_into(ctx, started, &mut result).await?;
            return Ok(Some(result.finish()?));
        }
        drop(df);
        tracing::info!(step = %step.name, provinces = provinces.len(), "running by province");
        // While a province's rows are read, the next province's query already runs, so that
        // the threads are not idle at the end of each province (nationally, `povcensus run`
        // of the census: 25.1 s with 1.75 of 2 cores busy one province at a time, 22.9 s and
        // 1.87 cores with the next one started).
        let mut next = Some(self.start_province(&provinces[0]).await?);
        for i in 0..provinces.len() {
            let Some((one, started)) = next.take() else {
                break;
            };
            if let Some(province) = provinces.get(i + 1) {
                next = Some(self.start_province(province).await?);
            }
            self.stream_into(&one, started, &mut result).await?;
        }
        Ok(Some(result.finish()?))
    }

    /// The step's query over `province` alone, started ([`SqlStep::start`]), and its session.
    async fn start_province(
        &self,
        province: &Snapshot,
    ) -> Result<(SessionContext, Started), PipelineError> {
        let one = self.province_session(province).await?;
        let df = match one.sql(&self.pipeline.sql_of(self.text)).await {
            Ok(df) => df,
            Err(e) => return Err(step_failure(&one, self.step, &self.what(), e).await),
        };
        let started = self.start(&one, df).await?;
        Ok((one, started))
    }

    /// `df` (planned in `ctx`) executing ([`crate::engine::start`]).
    async fn start(
        &self,
        ctx: &SessionContext,
        df: datafusion::dataframe::DataFrame,
    ) -> Result<Started, PipelineError> {
        let stream = match df.execute_stream().await {
            Ok(s) => s,
            Err(e) => return Err(step_failure(ctx, self.step, &self.what(), e).await),
        };
        Ok(crate::engine::start(stream).await)
    }

    /// The rows of a started query (planned in `ctx`) into `result`, as they come.
    async fn stream_into(
        &self,
        ctx: &SessionContext,
        mut stream: Started,
        result: &mut StepResult<'_>,
    ) -> Result<(), PipelineError> {
        while let Some(batch) = stream.next().await {
            match batch {
                Ok(b) => result.push(b)?,
                Err(e) => return Err(step_failure(ctx, self.step, &self.what(), e).await),
            }
        }
        Ok(())
    }

    /// The step's SQL file, as errors name it.
    fn what(&self) -> String {
        format!("queries/{}", self.file)
    }

    /// The session of a step run by province ([`Step::by_province`]): the province's tables
    /// alone, in a session sharing the run's memory pool (hash joins when they fit in half of
    /// it), with the views the step reads defined again over them.
    async fn province_session(&self, province: &Snapshot) -> Result<SessionContext, PipelineError> {
        let engine = self.engine.local().for_rows(province.rows("persons"));
        let one = crate::engine::sibling_session(self.ctx, &engine);
        crate::engine::with_optimizer(&one, |o| {
            o.enable_join_dynamic_filter_pushdown = self.pipeline.join_filters_in_scans
        });
        provide(&one, self.warehouse, Some(province))?;
        for view in self.pipeline.steps_read(self.step) {
            let StepKind::Sql { text, .. } = &view.kind else {
                continue;
            };
            let df = one
                .sql(&self.pipeline.sql_of(text))
                .await
                .map_err(step_err(&view.name))?;
            one.register_table(view.name.as_str(), df.into_view())
                .map_err(step_err(&view.name))?;
        }
        Ok(one)
    }
}

/// A table step's result as its batches come: kept for the later steps, and written to the
/// output files when the step is an output.
struct StepResult<'a> {
    sink: KeptSink<'a>,
    step: &'a Step,
    out: &'a Path,
    /// Made with the first batch's schema (which may differ from the plan's in details such
    /// as nullability).
    writer: Option<OutputWriter>,
}

impl<'a> StepResult<'a> {
    /// `planned`: the plan's schema, which a result without rows keeps.
    fn new(
        kept: &'a mut KeptTables,
        step: &'a Step,
        out: &'a Path,
        planned: SchemaRef,
    ) -> StepResult<'a> {
        StepResult {
            sink: kept.sink(planned),
            step,
            out,
            writer: None,
        }
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), PipelineError> {
        if self.step.output {
            let w = match &mut self.writer {
                Some(w) => w,
                None => {
                    let w = OutputWriter::create(self.out, &self.step.name, batch.schema())?;
                    self.writer.insert(w)
                }
            };
            w.write(&batch)?;
        }
        self.sink.push(batch).map_err(kept_err(&self.step.name))
    }

    fn finish(self) -> Result<(Kept, Vec<OutputFile>), PipelineError> {
        let table = self.sink.finish().map_err(kept_err(&self.step.name))?;
        let files = match (self.step.output, self.writer) {
            (false, _) => Vec::new(),
            (true, Some(w)) => w.finish()?,
            (true, None) => {
                OutputWriter::create(self.out, &self.step.name, table.schema())?.finish()?
            }
        };
        Ok((table, files))
    }
}

/// The `unpivot_indicators` built-in over the step's inputs (kept results, or views collected
/// now).
async fn run_unpivot(
    ctx: &SessionContext,
    step: &Step,
    results: &BTreeMap<String, Kept>,
    on_cluster: bool,
) -> Result<(SchemaRef, Vec<RecordBatch>), PipelineError> {
    let mut inputs = Vec::new();
    for d in &step.depends_on {
        let b = match results.get(d) {
            Some(kept) => (kept.schema(), kept.batches().map_err(kept_err(&step.name))?),
            None => {
                let df = ctx.table(d.as_str()).await.map_err(step_err(&step.name))?;
                check_travel(&step.name, df.logical_plan(), on_cluster)?;
                let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let b = df.collect().await.map_err(step_err(&step.name))?;
                (batches_schema(&b, planned), b)
            }
        };
        inputs.push((d.clone(), b.0, b.1));
    }
    match unpivot_indicators(&inputs) {
        Ok(batch) => Ok((batch.schema(), vec![batch])),
        Err(e) => {
            let e = DataFusionError::Plan(e);
            Err(step_failure(ctx, step, "built-in unpivot_indicators", e).await)
        }
    }
}

impl RunManifest {
    /// What a run of `pipeline` read (`snapshot`, `queries`: SQL file → SHA-256) and wrote.
    fn new(
        pipeline: &Pipeline,
        warehouse: &Warehouse,
        snapshot: Option<&Snapshot>,
        queries: BTreeMap<String, String>,
        outputs: Vec<OutputFile>,
    ) -> RunManifest {
        let pipeline_text = std::fs::read(&pipeline.path).unwrap_or_default();
        RunManifest {
            pipeline: pipeline.path.display().to_string(),
            pipeline_sha256: hex::encode(Sha256::digest(&pipeline_text)),
            tool: format!("povcensus {}", env!("CARGO_PKG_VERSION")),
            warehouse: warehouse.location.display.clone(),
            snapshot: snapshot.map(|s| s.id),
            provinces: snapshot
                .map(|s| {
                    s.provinces
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                (v.version, v.submission_id.clone(), v.content_sha256.clone()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            departments: snapshot
                .map(|s| {
                    s.departments
                        .iter()
                        .map(|(k, v)| {
                            let read =
                                (v.version, v.submission_id.clone(), v.content_sha256.clone());
                            (k.clone(), read)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            parameters: pipeline.parameters.clone(),
            queries,
            outputs,
        }
    }

    /// `OUT/run_manifest.json`.
    fn write(&self, out: &Path) -> Result<(), PipelineError> {
        let path = out.join("run_manifest.json");
        std::fs::write(
            &path,
            // reason: strings, integers and maps of string keys always serialize.
            serde_json::to_string_pretty(self).expect("manifest serializes") + "\n",
        )
        .map_err(|e| PipelineError::Write {
            path: path.display().to_string(),
            source: e.into(),
        })
    }
}
