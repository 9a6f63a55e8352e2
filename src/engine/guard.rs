//! Guarded SQL, for statements from people the process must survive (research access, the
//! `sql` console): a statement's size and nesting depth checked at parse time, planning and
//! execution on threads whose stacks hold what is admitted, a memory budget per query
//! ([`super::bounded`]), caps on result rows and bytes, a timeout that cancels the plan (its
//! tasks are aborted, so the CPU stops too), and an engine panic turned into an error. Every
//! refusal is a typed [`QueryError`] that says which limit, and how to stay within it.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{FetchType, LogicalPlan};
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::{CopyToSource, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Expr, Query, Select, TableFactor, Visit, Visitor};
use futures::StreamExt;

use super::bounded::{QueryPool, size};

/// Stack of each query thread. Planning and evaluating an expression recurse once per level
/// of nesting; this holds the deepest statement [`Limits::max_depth`] can admit many times
/// over (the memory is reserved, not used, until a query needs it).
pub const QUERY_STACK_BYTES: usize = 256 << 20;

/// What one statement may ask of the machine.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of SQL text.
    pub max_statement_bytes: usize,
    /// Nesting of expressions and subqueries, and the number of SELECTs and joined tables.
    pub max_depth: usize,
    /// Memory of one query's operators and of each batch a growing function makes.
    pub query_memory: usize,
    /// Bytes of the result (Arrow in memory).
    pub max_result_bytes: usize,
    /// Rows of the result.
    pub max_rows: Option<usize>,
    /// Wall time of one query, planning included.
    pub timeout: Option<Duration>,
    /// Refuse joins without an equality condition unless one side is known to be small: the
    /// engine compares their rows in loops that a timeout cannot interrupt.
    pub bounded_joins: bool,
}

pub const DEFAULT_MAX_STATEMENT_BYTES: usize = 64 << 10;
pub const DEFAULT_MAX_DEPTH: usize = 200;
pub const DEFAULT_QUERY_MEMORY: usize = 512 << 20;
pub const DEFAULT_MAX_RESULT_BYTES: usize = 256 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_statement_bytes: DEFAULT_MAX_STATEMENT_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            query_memory: DEFAULT_QUERY_MEMORY,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            max_rows: None,
            timeout: None,
            bounded_joins: false,
        }
    }
}

/// Why a guarded statement gave no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("the statement has {bytes} bytes, more than the limit of {limit}")]
    TooLong { bytes: usize, limit: usize },
    #[error(
        "the statement nests expressions or subqueries, or combines SELECTs and tables, more than {limit} deep"
    )]
    TooDeep { limit: usize },
    #[error("{}", readable(.0))]
    Refused(DataFusionError),
    #[error("the query failed: {0}")]
    Failed(DataFusionError),
    #[error(
        "the statement joins two inputs without an equality condition, and neither is known to have at most {SMALL_SIDE_ROWS} rows"
    )]
    UnboundedJoin,
    #[error("the result has more than {limit} rows")]
    TooManyRows { limit: usize },
    #[error("the result is larger than {}", size(*.limit as u64))]
    TooManyBytes { limit: usize },
    #[error("the query ran longer than {} s and was cancelled", .limit.as_secs_f64())]
    Timeout { limit: Duration },
    #[error("the query engine failed on this statement ({0}); the process carries on")]
    Panicked(String),
}

impl QueryError {
    /// The outcome as the query log says it: `refused` (a limit or rule, before or while
    /// running), `failed` (the query itself) or `cancelled` (out of time).
    pub fn outcome(&self) -> &'static str {
        match self {
            QueryError::Failed(DataFusionError::ResourcesExhausted(_)) => "refused",
            QueryError::Failed(_) | QueryError::Panicked(_) => "failed",
            QueryError::Timeout { .. } => "cancelled",
            _ => "refused",
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            QueryError::TooLong { .. } | QueryError::TooDeep { .. } => {
                "split the statement, or use IN (…), CASE or a join instead of long chains of AND, OR and +"
            }
            QueryError::TooManyRows { .. } | QueryError::TooManyBytes { .. } => {
                "aggregate, filter, select fewer columns or add a LIMIT"
            }
            QueryError::Failed(DataFusionError::ResourcesExhausted(_)) => {
                "aggregate or filter earlier, or make smaller values"
            }
            QueryError::Timeout { .. } => "filter earlier, or avoid joins without an equality",
            QueryError::UnboundedJoin => {
                "join on an equality (a.x = b.y), or make one side small: an aggregate without GROUP BY, a LIMIT or VALUES"
            }
            _ => return None,
        })
    }
}

/// A planning error as people read it: the SQL parser's without its Rust dress.
fn readable(e: &DataFusionError) -> String {
    use datafusion::sql::sqlparser::parser::ParserError;
    match e {
        DataFusionError::SQL(p, _) => match p.as_ref() {
            ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
                format!("the SQL does not parse: {m}")
            }
            ParserError::RecursionLimitExceeded => {
                "the SQL does not parse: it nests too deeply".to_string()
            }
        },
        e => e.to_string(),
    }
}

/// A query's answer.
#[derive(Debug)]
pub struct Answer {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    pub bytes: usize,
}

/// Runs guarded statements on threads of its own with deep stacks.
pub struct QueryRunner {
    runtime: Option<tokio::runtime::Runtime>,
    limits: Limits,
}

impl Drop for QueryRunner {
    fn drop(&mut self) {
        // Dropped in async code too: leave the threads without waiting for them.
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}

/// A spawned query, aborted when its caller stops waiting (out of time, or gone).
struct Aborting<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Aborting<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl QueryRunner {
    pub fn new(limits: Limits, threads: usize) -> std::io::Result<QueryRunner> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_stack_size(QUERY_STACK_BYTES)
            .thread_name("povcensus-query")
            .enable_all()
            .build()?;
        Ok(QueryRunner {
            runtime: Some(runtime),
            limits,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Make a session ready for guarded queries: its growing functions bounded.
    pub fn guard(&self, ctx: &SessionContext) {
        super::bounded::register(ctx, self.limits.query_memory);
    }

    /// The result schema of a statement, planned under the guards.
    pub async fn schema(&self, ctx: &SessionContext, sql: &str) -> Result<SchemaRef, QueryError> {
        let (ctx, sql, limits) = (ctx.clone(), sql.to_string(), self.limits.clone());
        self.spawn(async move {
            let df = plan(&ctx, &sql, &limits).await?;
            Ok(Arc::new(df.schema().as_arrow().clone()))
        })
        .await
    }

    /// Plan and run a statement under the guards.
    pub async fn run(&self, ctx: &SessionContext, sql: &str) -> Result<Answer, QueryError> {
        let (ctx, sql, limits) = (ctx.clone(), sql.to_string(), self.limits.clone());
        self.spawn(async move {
            let df = plan(&ctx, &sql, &limits).await?;
            collect(df, &limits).await
        })
        .await
    }

    async fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, QueryError>> + Send + 'static,
    ) -> Result<T, QueryError> {
        let Some(runtime) = &self.runtime else {
            return Err(QueryError::Panicked("the query threads are gone".into()));
        };
        let mut task = Aborting(runtime.spawn(work));
        let joined = match self.limits.timeout {
            Some(limit) => tokio::time::timeout(limit, &mut task.0)
                .await
                .map_err(|_| QueryError::Timeout { limit })?,
            None => (&mut task.0).await,
        };
        match joined {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(QueryError::Panicked(panic_text(e.into_panic()))),
            Err(_) => Err(QueryError::Panicked("the query was aborted".into())),
        }
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Refuse a statement beyond the size and depth limits; else its syntax tree.
pub fn check(ctx: &SessionContext, sql: &str, limits: &Limits) -> Result<DfStatement, QueryError> {
    if sql.len() > limits.max_statement_bytes {
        return Err(QueryError::TooLong {
            bytes: sql.len(),
            limit: limits.max_statement_bytes,
        });
    }
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state
        .sql_to_statement(sql, &dialect)
        .map_err(QueryError::Refused)?;
    let mut depth = Depth {
        now: 0,
        count: 0,
        limit: limits.max_depth,
    };
    if visit(&statement, &mut depth).is_break() {
        return Err(QueryError::TooDeep {
            limit: limits.max_depth,
        });
    }
    Ok(statement)
}

fn visit(statement: &DfStatement, depth: &mut Depth) -> ControlFlow<()> {
    match statement {
        DfStatement::Statement(s) => s.visit(depth),
        DfStatement::Explain(e) => visit(&e.statement, depth),
        DfStatement::CopyTo(c) => match &c.source {
            CopyToSource::Query(q) => q.visit(depth),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        DfStatement::CreateExternalTable(_) | DfStatement::Reset(_) => ControlFlow::Continue(()),
    }
}

/// Nesting of expressions and queries, and the count of SELECTs and table factors (a chain
/// of unions or joins nests in the plan as deep as it is long).
struct Depth {
    now: usize,
    count: usize,
    limit: usize,
}

impl Depth {
    fn enter(&mut self) -> ControlFlow<()> {
        self.now += 1;
        if self.now > self.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }

    fn counted(&mut self) -> ControlFlow<()> {
        self.count += 1;
        if self.count > self.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_select(&mut self, _: &Select) -> ControlFlow<()> {
        self.counted()
    }

    fn pre_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<()> {
        self.counted()
    }
}

/// Check, plan under the read-only rules, and bind the plan to a memory pool of its own.
async fn plan(base: &SessionContext, sql: &str, limits: &Limits) -> Result<DataFrame, QueryError> {
    let statement = check(base, sql, limits)?;
    let shared = base.runtime_env();
    let runtime = RuntimeEnv {
        memory_pool: Arc::new(QueryPool::new(
            shared.memory_pool.clone(),
            limits.query_memory,
        )),
        ..(*shared).clone()
    };
    let state = SessionStateBuilder::new_from_existing(base.state())
        .with_runtime_env(Arc::new(runtime))
        .build();
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(QueryError::Refused)?;
    super::read_only()
        .verify_plan(&plan)
        .map_err(QueryError::Refused)?;
    let df = SessionContext::new_with_state(state)
        .execute_logical_plan(plan)
        .await
        .map_err(QueryError::Refused)?;
    if limits.bounded_joins {
        let optimized = df
            .clone()
            .into_optimized_plan()
            .map_err(QueryError::Refused)?;
        check_joins(&optimized)?;
    }
    Ok(df)
}

/// The most rows a join side may have when the join has no equality condition.
pub const SMALL_SIDE_ROWS: usize = 10_000;

/// Rows a plan yields at most, where its shape says so.
fn at_most_rows(plan: &LogicalPlan) -> Option<usize> {
    match plan {
        LogicalPlan::Aggregate(a) if a.group_expr.is_empty() => Some(1),
        LogicalPlan::Limit(l) => match l.get_fetch_type() {
            Ok(FetchType::Literal(Some(n))) => Some(n),
            _ => at_most_rows(&l.input),
        },
        LogicalPlan::Values(v) => Some(v.values.len()),
        LogicalPlan::EmptyRelation(_) => Some(1),
        LogicalPlan::Projection(p) => at_most_rows(&p.input),
        LogicalPlan::Filter(f) => at_most_rows(&f.input),
        LogicalPlan::SubqueryAlias(s) => at_most_rows(&s.input),
        LogicalPlan::Sort(s) => at_most_rows(&s.input),
        LogicalPlan::Join(j) => at_most_rows(&j.left)?.checked_mul(at_most_rows(&j.right)?),
        _ => None,
    }
}

/// Refuse a join without an equality condition of two sides not known to be small.
fn check_joins(plan: &LogicalPlan) -> Result<(), QueryError> {
    let small = |p: &LogicalPlan| at_most_rows(p).is_some_and(|n| n <= SMALL_SIDE_ROWS);
    let mut unbounded = false;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Join(j) = node
            && j.on.is_empty()
            && !small(&j.left)
            && !small(&j.right)
        {
            unbounded = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    if unbounded {
        Err(QueryError::UnboundedJoin)
    } else {
        Ok(())
    }
}

/// Run a plan, stopping as soon as the result passes the row or byte cap.
async fn collect(df: DataFrame, limits: &Limits) -> Result<Answer, QueryError> {
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let df = match limits.max_rows {
        Some(n) => df.limit(0, Some(n + 1)).map_err(QueryError::Refused)?,
        None => df,
    };
    let mut stream = df.execute_stream().await.map_err(QueryError::Failed)?;
    let mut answer = Answer {
        schema,
        batches: Vec::new(),
        rows: 0,
        bytes: 0,
    };
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(QueryError::Failed)?;
        answer.rows += batch.num_rows();
        answer.bytes += batch_bytes(&batch);
        if let Some(limit) = limits.max_rows
            && answer.rows > limit
        {
            return Err(QueryError::TooManyRows { limit });
        }
        if answer.bytes > limits.max_result_bytes {
            return Err(QueryError::TooManyBytes {
                limit: limits.max_result_bytes,
            });
        }
        answer.batches.push(batch);
    }
    Ok(answer)
}

/// The bytes a batch's rows hold (a slice counts its part, not the buffers it shares).
fn batch_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(limits: Limits) -> (QueryRunner, SessionContext) {
        let ctx = SessionContext::new();
        let runner = QueryRunner::new(limits, 2).unwrap();
        runner.guard(&ctx);
        (runner, ctx)
    }

    fn chain(terms: usize, op: &str) -> String {
        format!("SELECT 1{}", format!(" {op} 1").repeat(terms - 1))
    }

    #[tokio::test]
    async fn statements_are_refused_past_the_size_and_depth_limits() {
        let (r, ctx) = runner(Limits {
            max_statement_bytes: 200_000,
            ..Limits::default()
        });
        let ok = r
            .run(&ctx, &chain(DEFAULT_MAX_DEPTH - 5, "+"))
            .await
            .unwrap();
        assert_eq!(ok.rows, 1);
        let deep = r.run(&ctx, &chain(20_000, "+")).await.unwrap_err();
        assert!(matches!(deep, QueryError::TooDeep { .. }), "{deep}");
        let ors = r.run(&ctx, &chain(20_000, "OR")).await.unwrap_err();
        assert!(matches!(ors, QueryError::TooDeep { .. }), "{ors}");
        let long = format!("SELECT '{}'", "x".repeat(200_000));
        let long = r.run(&ctx, &long).await.unwrap_err();
        assert!(matches!(long, QueryError::TooLong { .. }), "{long}");
    }

    #[tokio::test]
    async fn growing_functions_and_big_results_are_refused_not_fatal() {
        let (r, ctx) = runner(Limits {
            query_memory: 64 << 20,
            max_result_bytes: 8 << 20,
            ..Limits::default()
        });
        let e = r
            .run(&ctx, "SELECT repeat('x', 1000000000) AS s")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("repeat() would make"), "{e}");
        let e = r
            .run(
                &ctx,
                "SELECT repeat('x', 4000000 + CAST(value AS INT)) AS s FROM generate_series(1, 1000)",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("repeat() would make"), "{e}");
        let e = r
            .run(
                &ctx,
                "SELECT repeat('x', 50000 + CAST(value AS INT)) AS s FROM generate_series(1, 1000)",
            )
            .await
            .unwrap_err();
        assert!(matches!(e, QueryError::TooManyBytes { .. }), "{e}");
        assert_eq!(r.run(&ctx, "SELECT 1").await.unwrap().rows, 1);
    }
}
