//! The engine's side of an Apache DataFusion Ballista cluster, knowing no stage: scheduler
//! addresses (`df://HOST:PORT`) and the probe that asks a scheduler whether it answers and has
//! executors ([`probe`]); the client session whose queries the scheduler plans and the
//! executors run ([`session`]); the runtime every node builds for a query (object stores from
//! the session's `s3.*` settings, spill files in the node's private work directory,
//! [`node_runtime`]); and the shared scratch where in-memory tables become Parquet files every
//! node can read ([`SharedScratch`]): Ballista sends plans, not data, so a table held in the
//! client's memory cannot travel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::object_store::{CustomObjectStoreRegistry, S3Options};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{MemTable, source_as_provider};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// Ballista's default scheduler port (gRPC, and `/healthz`, `/readyz` over HTTP).
pub const SCHEDULER_PORT: u16 = 50050;
/// Ballista's default executor port (Arrow Flight; its gRPC port is the next one).
pub const EXECUTOR_PORT: u16 = 50051;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("`{address}` is not a scheduler address like df://HOST:PORT: {reason}")]
    Address { address: String, reason: String },
    #[error("no Ballista scheduler answers at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("the scheduler at {address} has no executor ({status})")]
    NoExecutors { address: String, status: String },
    #[error(
        "an executor left the cluster at {address} during the job ({before} executors before, {after} after); its results are not used"
    )]
    ExecutorLost {
        address: String,
        before: u64,
        after: u64,
    },
    #[error(
        "the scheduler at {address} cancelled the job: an executor left the cluster while it ran; its results are not used"
    )]
    JobCancelled { address: String },
    #[error(
        "an executor left the cluster at {address} during the job: the results of one of its tasks could not be fetched ({reason}); the job's results are not used"
    )]
    ExecutorUnreachable { address: String, reason: String },
    #[error("the cluster could not read or write the shared scratch {location}: {source}")]
    Scratch {
        location: String,
        source: DataFusionError,
    },
}

impl ClusterError {
    /// The next step for the user.
    pub fn hint(&self) -> &'static str {
        match self {
            ClusterError::Address { .. } => {
                "write the scheduler's address as df://HOST:PORT (Ballista's port is 50050)"
            }
            ClusterError::Unreachable { .. } => {
                "start a scheduler there with `povcensus cluster scheduler --bind HOST:PORT`, \
                 or check the address and the firewall; `povcensus cluster status` checks it"
            }
            ClusterError::NoExecutors { .. } => {
                "start executors with `povcensus cluster executor --scheduler HOST:PORT` and \
                 check they can reach the scheduler"
            }
            ClusterError::ExecutorLost { .. }
            | ClusterError::JobCancelled { .. }
            | ClusterError::ExecutorUnreachable { .. } => {
                "run the command again once the cluster is stable (`povcensus cluster status`): \
                 Ballista re-runs the tasks of a lost executor, and such a re-run has been seen \
                 to count rows twice, so povcensus never keeps a result computed across a loss"
            }
            ClusterError::Scratch { .. } => {
                "every node must reach the warehouse: use an s3:// warehouse, or a path \
                 shared by every machine (and the same path on each)"
            }
        }
    }
}

/// A host and port (`df://HOST:PORT`, `HOST:PORT` or `HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

impl Address {
    /// Parse `df://HOST:PORT`, `HOST:PORT` or `HOST` (then `default_port`).
    pub fn parse(text: &str, default_port: u16) -> Result<Address, ClusterError> {
        let bad = |reason: &str| ClusterError::Address {
            address: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = match text.split_once("://") {
            Some(("df", rest)) => rest,
            Some((scheme, _)) => return Err(bad(&format!("the scheme is {scheme}://, not df://"))),
            None => text,
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(bad("an address has no path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number from 1 to 65535"))?,
            ),
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(bad("no host, or port 0"));
        }
        Ok(Address {
            host: host.to_string(),
            port,
        })
    }

    /// Whether only this machine can reach it (then every node runs here).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    pub fn url(&self) -> String {
        format!("df://{self}")
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The cluster a session submits its queries to, and the settings that travel with them to
/// the scheduler and executors (`s3.*`: object-store credentials and endpoint).
#[derive(Clone)]
pub struct Cluster {
    pub scheduler: Address,
    pub settings: Vec<(String, String)>,
}

impl std::fmt::Debug for Cluster {
    // The settings hold credentials: only their names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.settings.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "Cluster({}, settings {keys:?})", self.scheduler.url())
    }
}

/// The `s3.*` session settings from the usual AWS environment variables of the client: they
/// travel with each query, so executors need no credentials of their own (those that have
/// them in their environment use them where a setting is absent).
pub fn s3_settings_from_env() -> Vec<(String, String)> {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    let mut settings = Vec::new();
    for (key, names) in [
        ("access_key_id", &["AWS_ACCESS_KEY_ID"][..]),
        ("secret_access_key", &["AWS_SECRET_ACCESS_KEY"]),
        ("session_token", &["AWS_SESSION_TOKEN"]),
        ("region", &["AWS_REGION", "AWS_DEFAULT_REGION"]),
        ("endpoint", &["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]),
        ("allow_http", &["AWS_ALLOW_HTTP"]),
    ] {
        if let Some(v) = var(names) {
            settings.push((format!("s3.{key}"), v));
        }
    }
    settings
}

/// Ask the scheduler at `address` whether it is ready (`GET /readyz`): `Ok` with its answer
/// ("ready: N executors registered") once it has an executor, waiting up to `wait` for one
/// to register.
pub async fn probe(address: &Address, wait: Duration) -> Result<String, ClusterError> {
    let start = Instant::now();
    loop {
        let (status, body) = readyz(address).await?;
        if status == 200 {
            return Ok(body.trim().to_string());
        }
        if status != 503 {
            return Err(ClusterError::Unreachable {
                address: address.url(),
                reason: format!("it answers HTTP {status} to /readyz, not as a Ballista scheduler"),
            });
        }
        if start.elapsed() >= wait {
            return Err(ClusterError::NoExecutors {
                address: address.url(),
                status: body.trim().to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The number of executors registered with the scheduler now (from its `/readyz` answer,
/// "ready: N executors registered"; 0 when it has none).
pub async fn executor_count(address: &Address) -> Result<u64, ClusterError> {
    let (status, body) = readyz(address).await?;
    if status != 200 {
        return Ok(0);
    }
    let digits: String = body
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().map_err(|_| ClusterError::Unreachable {
        address: address.url(),
        reason: format!(
            "its /readyz answer `{}` does not count executors",
            body.trim()
        ),
    })
}

/// Fail when fewer executors are registered than `before` (counted when the job started): a
/// result computed across the loss of an executor is not trusted.
pub async fn check_no_executor_lost(address: &Address, before: u64) -> Result<(), ClusterError> {
    let after = executor_count(address).await?;
    if after < before {
        return Err(ClusterError::ExecutorLost {
            address: address.url(),
            before,
            after,
        });
    }
    Ok(())
}

/// Whether `error` is a job the scheduler cancelled. A povcensus scheduler cancels every
/// running job when an executor leaves the cluster (`node::run_scheduler`), and nothing else
/// cancels a job a client still waits for; Ballista's client reports it as
/// "Job ID failed: Cancelled" (`message`: the engine's message of a failed query).
pub fn cancelled_by_scheduler(message: &str) -> bool {
    message.trim_end().ends_with(" failed: Cancelled")
}

/// What Ballista says when a task could not fetch a shuffle partition from the executor that
/// wrote it (`BallistaError::FetchFailed`).
const FETCH_FAILED: &str = "Shuffle fetch partition error from Executor ";

/// The cause in a failed query's `message` when a task could not fetch another executor's
/// shuffle output: the executor, and what the fetch met (`None` for any other failure). That
/// executor stopped answering, most often because it left the cluster, before the scheduler
/// missed its heartbeats; the job fails then, before the scheduler counts the loss.
pub fn fetch_failed(message: &str) -> Option<String> {
    let (_, rest) = message.split_once(FETCH_FAILED)?;
    let executor = rest.split([',', ' ']).next().unwrap_or_default();
    let reason = ["Connection refused", "tcp connect error", "Unavailable"]
        .into_iter()
        .find(|r| rest.contains(r))
        .unwrap_or("no answer");
    Some(format!("executor {executor}: {reason}"))
}

impl Cluster {
    /// The error to say when `message`, a failed query's, is an executor's loss: the scheduler
    /// cancelled the job because an executor left (see [`cancelled_by_scheduler`]), or a task
    /// could not fetch a lost executor's results (see [`fetch_failed`]).
    pub fn executor_loss(&self, message: &str) -> Option<ClusterError> {
        let address = self.scheduler.url();
        if cancelled_by_scheduler(message) {
            return Some(ClusterError::JobCancelled { address });
        }
        fetch_failed(message).map(|reason| ClusterError::ExecutorUnreachable { address, reason })
    }
}

/// Seconds between the checks of [`watch_for_executor_loss`].
const WATCH_SECONDS: u64 = 1;

/// Resolve with [`ClusterError::ExecutorLost`] as soon as the scheduler counts fewer executors
/// than `before`; never resolve otherwise. Raced against a running query, it ends a job that
/// a lost executor left waiting (Ballista 55 can wait on such a job indefinitely) with the
/// error instead. A scheduler that stops answering is not a loss here: the query itself fails.
pub async fn watch_for_executor_loss(address: &Address, before: u64) -> ClusterError {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(WATCH_SECONDS)).await;
        if let Err(e @ ClusterError::ExecutorLost { .. }) =
            check_no_executor_lost(address, before).await
        {
            return e;
        }
    }
}

/// The most of a `/readyz` reply read.
const READYZ_REPLY_BYTES: u64 = 4096;

/// One `GET /readyz` over HTTP/1.1: the status code and the body.
async fn readyz(address: &Address) -> Result<(u16, String), ClusterError> {
    let unreachable = |reason: String| ClusterError::Unreachable {
        address: address.url(),
        reason,
    };
    let exchange = async {
        let mut stream =
            tokio::net::TcpStream::connect((address.host.as_str(), address.port)).await?;
        let request =
            format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream
            .take(READYZ_REPLY_BYTES)
            .read_to_end(&mut reply)
            .await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| unreachable("no answer within 5 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| unreachable("it does not answer HTTP /readyz like a scheduler".into()))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

/// A client session on `cluster` from a local session's configuration and runtime: the same
/// SQL dialect and functions, but `collect` submits the plan to the scheduler. Settings
/// Ballista fixes for distribution apply (no round-robin repartitioning, plain `Utf8`
/// strings rather than `Utf8View`, its join choices), with its static planner.
pub fn session(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    cluster: &Cluster,
) -> Result<SessionContext, DataFusionError> {
    let mut config = config
        .upgrade_for_ballista()
        .with_option_extension(S3Options::default());
    // Ballista's adaptive planner re-checks each stage's plan with DataFusion's sanity check,
    // which loses what the stage below guaranteed (a union branch's constant sort key) and
    // refuses the census indicators' final ordering; the static distributed planner runs it.
    config
        .options_mut()
        .set("ballista.planner.adaptive.enabled", "false")?;
    for (k, v) in &cluster.settings {
        config.options_mut().set(k, v)?;
    }
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build()
        .upgrade_for_ballista(format!("http://{}", cluster.scheduler))?;
    Ok(SessionContext::new_with_state(state))
}

/// The configuration a scheduler or executor starts each query's session from: Ballista's,
/// with room for the `s3.*` settings the client sends.
pub fn node_config() -> SessionConfig {
    SessionConfig::new_with_ballista().with_option_extension(S3Options::default())
}

/// The runtime of a query on a node: object stores from the session's `s3.*` settings (else
/// the node's AWS environment) and local files; spill files in `work_dir`, which the node
/// keeps private and removes.
pub fn node_runtime(
    config: &SessionConfig,
    work_dir: &Path,
) -> Result<Arc<RuntimeEnv>, DataFusionError> {
    let s3 = config
        .options()
        .extensions
        .get::<S3Options>()
        .cloned()
        .unwrap_or_default();
    let mode = DiskManagerMode::Directories(vec![work_dir.to_path_buf()]);
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(CustomObjectStoreRegistry::new(s3)))
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
        .build_arc()
}

/// Parquet tables of a query's session in a location every node reads: the in-memory tables
/// of the client written there and registered as listing tables. Removed by [`Self::remove`],
/// or when dropped (an interrupt included).
pub struct SharedScratch {
    store: Arc<dyn ObjectStore>,
    store_url: Url,
    prefix: ObjectPath,
    removed: bool,
}

impl SharedScratch {
    /// A new scratch folder `<base>/_scratch/run-<unique>` in `store` (at `store_url`).
    pub fn new(store: Arc<dyn ObjectStore>, store_url: Url, base: &ObjectPath) -> SharedScratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let unique = format!("run-{}-{nanos}", std::process::id());
        SharedScratch {
            store,
            store_url,
            prefix: base.clone().join("_scratch").join(unique.as_str()),
            removed: false,
        }
    }

    /// Where it is, as DataFusion names it.
    pub fn location(&self) -> String {
        format!("{}{}", self.store_url, self.prefix)
    }

    /// Write `batches` as `<name>.parquet` and register it in `ctx` as table `name`,
    /// replacing what had that name.
    pub async fn register(
        &self,
        ctx: &SessionContext,
        name: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), ClusterError> {
        let scratch_err = |source| ClusterError::Scratch {
            location: self.location(),
            source,
        };
        let path = self.prefix.clone().join(format!("{name}.parquet").as_str());
        self.write(&path, Arc::clone(&schema), batches)
            .await
            .map_err(scratch_err)?;
        let url =
            ListingTableUrl::parse(format!("{}{}", self.store_url, path)).map_err(scratch_err)?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        let table = ListingTable::try_new(config).map_err(scratch_err)?;
        ctx.register_object_store(&self.store_url, Arc::clone(&self.store));
        ctx.deregister_table(name).map_err(scratch_err)?;
        ctx.register_table(name, Arc::new(table))
            .map_err(scratch_err)?;
        Ok(())
    }

    async fn write(
        &self,
        path: &ObjectPath,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), DataFusionError> {
        let object = object_store::buffered::BufWriter::new(Arc::clone(&self.store), path.clone());
        let properties = Some(super::writer_properties());
        let mut writer = parquet::arrow::AsyncArrowWriter::try_new(object, schema, properties)?;
        for b in batches {
            writer.write(b).await?;
        }
        writer.close().await?;
        Ok(())
    }

    /// Make every in-memory table of `ctx` ([`MemTable`]) a Parquet table in the scratch, so
    /// that the cluster can read it.
    pub async fn ship_in_memory_tables(&self, ctx: &SessionContext) -> Result<(), ClusterError> {
        let scratch_err = |source| ClusterError::Scratch {
            location: self.location(),
            source,
        };
        let local = SessionContext::new();
        for name in table_names(ctx) {
            let provider = ctx
                .table_provider(name.as_str())
                .await
                .map_err(scratch_err)?;
            let any: &dyn std::any::Any = provider.as_ref();
            if !any.is::<MemTable>() {
                continue;
            }
            let plan = provider
                .scan(&local.state(), None, &[], None)
                .await
                .map_err(scratch_err)?;
            let batches = datafusion::physical_plan::collect(plan, local.task_ctx())
                .await
                .map_err(scratch_err)?;
            self.register(ctx, &name, provider.schema(), &batches)
                .await?;
        }
        Ok(())
    }

    /// Remove the scratch folder and everything in it.
    pub async fn remove(mut self) {
        self.removed = true;
        remove_prefix(&self.store, &self.store_url, &self.prefix).await;
    }
}

impl Drop for SharedScratch {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        // Dropped without `remove` (an error, or an interrupt that cancelled the work): remove
        // it now on a thread of its own, since this one may be the runtime's.
        let (store, url, prefix) = (
            Arc::clone(&self.store),
            self.store_url.clone(),
            self.prefix.clone(),
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(remove_prefix(&store, &url, &prefix));
                }
            });
        });
    }
}

/// Delete every object under `prefix`; on a local disk, the emptied folders too.
async fn remove_prefix(store: &Arc<dyn ObjectStore>, store_url: &Url, prefix: &ObjectPath) {
    let listed: Result<Vec<_>, _> = store.list(Some(prefix)).try_collect().await;
    for meta in listed.unwrap_or_default() {
        if let Err(e) = store.delete(&meta.location).await {
            tracing::warn!("cannot remove the scratch file {}: {e}", meta.location);
        }
    }
    if store_url.scheme() == "file" {
        let dir = PathBuf::from(format!("/{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        // `_scratch` itself, when no other run uses it.
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Names of the tables in the session's default schema, sorted.
fn table_names(ctx: &SessionContext) -> Vec<String> {
    let state = ctx.state();
    let options = state.config().options();
    let mut names = ctx
        .catalog(&options.catalog.default_catalog)
        .and_then(|c| c.schema(&options.catalog.default_schema))
        .map(|s| s.table_names())
        .unwrap_or_default();
    names.sort();
    names
}

/// The first table a plan reads that cannot travel to the executors: anything but listing
/// (Parquet) tables and views over them.
pub fn untravelled_table(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let Ok(provider) = source_as_provider(&scan.source) else {
                found = Some(scan.table_name.to_string());
                return Ok(TreeNodeRecursion::Stop);
            };
            let inner = travels(provider.as_ref(), &scan.table_name.to_string());
            if inner.is_some() {
                found = inner;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

fn travels(provider: &dyn TableProvider, name: &str) -> Option<String> {
    let any: &dyn std::any::Any = provider;
    if any.is::<ListingTable>() {
        return None;
    }
    // Views (SQL views, data frames kept as views) are planned into the queries that read them.
    match provider.get_logical_plan() {
        Some(plan) => untravelled_table(&plan),
        None => Some(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = Address::parse("df://10.0.0.1:50050", SCHEDULER_PORT).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("10.0.0.1", 50050));
        assert_eq!(a.url(), "df://10.0.0.1:50050");
        assert!(!a.is_loopback());
        let a = Address::parse("localhost", SCHEDULER_PORT).unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.is_loopback()),
            ("localhost", 50050, true)
        );
        let a = Address::parse("[::1]:7000", SCHEDULER_PORT).unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.is_loopback()),
            ("::1", 7000, true)
        );
        assert_eq!(a.to_string(), "[::1]:7000");
        for bad in [
            "http://h:1",
            "df://h:port",
            "df://:50050",
            "df://h:1/x",
            "h:0",
            "h:70000",
        ] {
            assert!(Address::parse(bad, SCHEDULER_PORT).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_job_the_scheduler_cancelled_is_told_from_other_failures() {
        // Ballista 55's client, as a step's engine error shows it.
        assert!(cancelled_by_scheduler(
            "Execution error: Job 038HJDQZ5J000 failed: Cancelled"
        ));
        assert!(!cancelled_by_scheduler(
            "Execution error: Job 038HJDQZ5J000 failed: Task failed: division by zero"
        ));
        assert!(!cancelled_by_scheduler(
            "Execution error: Cancelled by the user, then failed: Cancelled again"
        ));
    }

    #[test]
    fn a_failed_fetch_from_a_lost_executor_is_a_loss_naming_the_executor() {
        // The CI run of 2026-12-02: an executor killed during `county_household_sums`.
        let failed = "External error: Shuffle fetch partition error from Executor \
            b430415b-1c21-4848-98b2-45864c9cfb61, map_stage 4, map_partition 0, error desc: \
            Status { code: Unavailable, message: \"tcp connect error\", source: \
            Some(tonic::transport::Error(Transport, ConnectError(ConnectError(\"tcp connect \
            error\", 127.0.0.1:44207, Os { code: 111, kind: ConnectionRefused, message: \
            \"Connection refused\" })))) }";
        assert_eq!(
            fetch_failed(failed).as_deref(),
            Some("executor b430415b-1c21-4848-98b2-45864c9cfb61: Connection refused")
        );
        let c = Cluster {
            scheduler: Address::parse("df://h:1", SCHEDULER_PORT).unwrap(),
            settings: vec![],
        };
        let said = c.executor_loss(failed).unwrap().to_string();
        assert!(
            said.starts_with("an executor left the cluster at df://h:1"),
            "{said}"
        );
        assert!(
            c.executor_loss("Execution error: Job 038HJ failed: Task failed: division by zero")
                .is_none()
        );
    }

    #[test]
    fn a_cluster_never_shows_its_settings() {
        let c = Cluster {
            scheduler: Address::parse("df://h:1", SCHEDULER_PORT).unwrap(),
            settings: vec![("s3.secret_access_key".into(), "very-secret".into())],
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("s3.secret_access_key") && !shown.contains("very-secret"));
    }

    #[tokio::test]
    async fn in_memory_tables_do_not_travel_and_views_are_looked_through() {
        let ctx = SessionContext::new();
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("x", arrow::datatypes::DataType::Int64, true),
        ]));
        let mem = MemTable::try_new(schema, vec![vec![]]).unwrap();
        ctx.register_table("held", Arc::new(mem)).unwrap();
        let view = ctx.sql("SELECT x FROM held").await.unwrap().into_view();
        ctx.register_table("kept", view).unwrap();
        let df = ctx.sql("SELECT 1 AS one").await.unwrap();
        assert_eq!(untravelled_table(df.logical_plan()), None);
        let df = ctx
            .sql("SELECT * FROM kept WHERE x IN (SELECT x FROM held)")
            .await
            .unwrap();
        assert_eq!(
            untravelled_table(df.logical_plan()).as_deref(),
            Some("held")
        );
    }

    #[tokio::test]
    async fn a_shared_scratch_holds_tables_as_parquet_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::local::LocalFileSystem::new());
        let base = ObjectPath::from_absolute_path(dir.path()).unwrap();
        let scratch = SharedScratch::new(store, Url::parse("file:///").unwrap(), &base);
        let ctx = SessionContext::new();
        let batch = RecordBatch::try_from_iter(vec![(
            "x",
            Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3])) as _,
        )])
        .unwrap();
        let mem = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("t", Arc::new(mem)).unwrap();
        scratch.ship_in_memory_tables(&ctx).await.unwrap();
        let df = ctx.sql("SELECT SUM(x) AS s FROM t").await.unwrap();
        assert_eq!(untravelled_table(df.logical_plan()), None);
        let got = df.collect().await.unwrap();
        let s = crate::engine::int64(got[0].column(0)).unwrap();
        assert_eq!(s.value(0), 6);
        assert!(dir.path().join("_scratch").is_dir());
        scratch.remove().await;
        assert!(!dir.path().join("_scratch").exists());
    }
}
