//! The nodes of a povcensus cluster: an Apache DataFusion Ballista scheduler and executors
//! embedded in the binary (`povcensus cluster scheduler`, `povcensus cluster executor`), so
//! that every node plans and runs povcensus' own SQL functions (`age_on`, `survey_variance`,
//! `t_quantile`, …), reads the warehouse's object store with the settings each query brings
//! (`s3.*`), and keeps spill and shuffle files — which hold record values — in a private work
//! directory that is removed when the node stops (an interrupt included) and emptied of each
//! job's files soon after the job ends. The scheduler's count of free task slots is
//! [`slots`]'s, which Ballista's rolled-back stages cannot leak.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::executor_status;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::{
    BallistaCluster, ClusterState, ClusterStateEvent, ClusterStateEventStream,
};
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use futures::StreamExt;

use crate::engine::cluster::{Address, node_config, node_runtime};
use crate::engine::scratch::ScratchDir;

mod slots;

use slots::Slots;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the {node} could not start or stopped on an error: {source}")]
    Ballista {
        node: &'static str,
        source: ballista_core::error::BallistaError,
    },
    #[error("`{address}` is not an address this machine can listen on: {reason}")]
    Bind { address: String, reason: String },
    #[error("cannot create the executor's work directory under {path}: {source}")]
    WorkDir {
        path: String,
        source: std::io::Error,
    },
}

impl NodeError {
    /// The next step for the user.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            NodeError::Bind { .. } => Some(
                "give --bind an IP address of this machine and a free port, e.g. 0.0.0.0:50050",
            ),
            NodeError::WorkDir { .. } => {
                Some("give --work-dir a directory on a local disk this user can write")
            }
            NodeError::Ballista { .. } => None,
        }
    }
}

/// Stack of a node's threads (reserved, used as deep plans need it).
pub const STACK_BYTES: usize = 64 << 20;

/// Seconds between an executor's heartbeats to the scheduler.
pub const HEARTBEAT_SECONDS: u64 = 3;
/// Seconds after a job ends before its shuffle files are removed from the executors.
const FINISHED_JOB_CLEANUP_SECONDS: u64 = 5;

/// A scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: Address,
    /// Seconds without a heartbeat after which an executor is taken as dead and its tasks
    /// run elsewhere.
    pub executor_timeout: u64,
}

/// An executor.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: Address,
    /// The Arrow Flight port; the executor's gRPC port is the next one.
    pub bind: Address,
    /// Memory of query execution on this node (shared by its task slots; beyond it operators
    /// spill to the work directory).
    pub memory_limit: usize,
    /// Where the private work directory is made (default: the system temporary directory).
    pub work_dir: Option<PathBuf>,
    /// Task slots (default: the cores).
    pub threads: usize,
}

/// Every SQL function povcensus' queries may call: DataFusion's, the engine's and the
/// exit assessment's.
fn with_functions(state: SessionState) -> SessionState {
    let ctx = SessionContext::new_with_state(state);
    crate::engine::functions::register(&ctx);
    crate::assessment::register(&ctx);
    ctx.state()
}

/// The functions executors resolve plans' function names with.
pub fn function_registry() -> BallistaFunctionRegistry {
    let state = SessionStateBuilder::new().with_default_features().build();
    BallistaFunctionRegistry::from(&with_functions(state))
}

fn socket(address: &Address) -> Result<std::net::SocketAddr, NodeError> {
    use std::net::ToSocketAddrs as _;
    (address.host.as_str(), address.port)
        .to_socket_addrs()
        .map_err(|e| NodeError::Bind {
            address: address.to_string(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| NodeError::Bind {
            address: address.to_string(),
            reason: "the host name has no address".into(),
        })
}

/// Run a scheduler until the process is stopped.
pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<(), NodeError> {
    let address = socket(&opts.bind)?;
    // The scheduler plans each query: it reads the tables' file metadata with the query's
    // object-store settings. Its spill directory is never used; a private one all the same.
    let planning_dir =
        crate::engine::scratch::spill_dir().map_err(|source| NodeError::WorkDir {
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
    let mut config = SchedulerConfig {
        bind_host: opts.bind.host.clone(),
        bind_port: opts.bind.port,
        external_host: opts.bind.host.clone(),
        executor_timeout_seconds: opts.executor_timeout,
        expire_dead_executor_interval_seconds: (opts.executor_timeout / 2).clamp(1, 15),
        no_executors_grace_period_seconds: opts.executor_timeout,
        finished_job_data_clean_up_interval_seconds: FINISHED_JOB_CLEANUP_SECONDS,
        // A task that cannot fetch a shuffle partition (its executor died) fails the job: Ballista
        // 55's re-run of the map stage has been seen to count rows twice, and a census figure
        // must be right or absent. Tasks that fail on their own are still retried.
        stage_max_failures: 1,
        ..SchedulerConfig::default()
    }
    .with_override_config_producer(Arc::new(node_config))
    .with_override_session_builder(Arc::new(move |config: SessionConfig| {
        let runtime = node_runtime(&config, &planning_dir)?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        Ok(with_functions(state))
    }));
    config.min_ready_executors = 1;
    let ballista = |source| NodeError::Ballista {
        node: "scheduler",
        source,
    };
    let memory = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista)?;
    let cluster_state: Arc<dyn ClusterState> = Arc::new(Slots::new(memory.cluster_state()));
    let cluster = BallistaCluster::new(Arc::clone(&cluster_state), memory.job_state());
    eprintln!(
        "povcensus {} scheduler listening on {} (df://{})",
        env!("CARGO_PKG_VERSION"),
        address,
        opts.bind
    );
    let config = Arc::new(config);
    config.validate().map_err(ballista)?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
        .await
        .map_err(ballista)?;
    let events = scheduler.cluster_state_events().await.map_err(ballista)?;
    tokio::spawn(cancel_running_jobs_on_executor_loss(
        scheduler.clone(),
        cluster_state,
        opts.executor_timeout,
        events,
    ));
    start_grpc_service(address, scheduler)
        .await
        .map_err(ballista)
}

/// Milliseconds between the scheduler's looks for executors that stopped being alive.
const LOSS_CHECK_MILLIS: u64 = 250;

/// Cancel every running job as soon as an executor leaves the cluster: its heartbeats stop
/// (the moment `/readyz` stops counting it), or the scheduler removes it because a task could
/// not be sent to it. Ballista 55 would re-run the lost executor's tasks, and such a re-run
/// has been seen to count rows twice or to leave the job waiting for ever; a census figure
/// must be right or absent, so the job fails and the client says so
/// ([`ClusterError::JobCancelled`](crate::engine::cluster::ClusterError::JobCancelled)). An
/// executor is lost once: a silent executor is removed from Ballista's state at once, its
/// removal does not cancel the jobs submitted since (the rerun), and jobs submitted after the
/// loss run on the remaining executors.
async fn cancel_running_jobs_on_executor_loss(
    scheduler: SchedulerServer<LogicalPlanNode, PhysicalPlanNode>,
    cluster_state: Arc<dyn ClusterState>,
    executor_timeout: u64,
    mut events: ClusterStateEventStream,
) {
    let mut alive: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(LOSS_CHECK_MILLIS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (lost, silent): (Vec<String>, bool) = tokio::select! {
            _ = tick.tick() => {
                let now = alive_executors(cluster_state.as_ref(), executor_timeout);
                let lost = alive.difference(&now).cloned().collect();
                alive = now;
                (lost, true)
            }
            event = events.next() => match event {
                None => return,
                Some(ClusterStateEvent::RegisteredExecutor { executor_id }) => {
                    alive.insert(executor_id);
                    continue;
                }
                Some(ClusterStateEvent::RemovedExecutor { executor_id }) => {
                    if !alive.remove(&executor_id) {
                        continue;
                    }
                    (vec![executor_id], false)
                }
            },
        };
        if lost.is_empty() {
            continue;
        }
        let running = scheduler.state.task_manager.get_running_job_cache();
        for job in running.keys() {
            tracing::warn!(executors = ?lost, %job, "an executor left the cluster: cancelling the running job");
            if let Err(e) = scheduler.cancel_job(job.clone()).await {
                tracing::error!(%job, error = %e, "could not cancel the job");
            }
        }
        // An executor whose heartbeats stopped is removed at once. Ballista's own sweep would
        // remove it up to `executor_timeout / 2` seconds later and reset the stages of the jobs
        // then running, which by then are the reruns on the remaining executors; a rerun was
        // once left waiting for ever there.
        if silent {
            for executor in &lost {
                let reason = "its heartbeats stopped; the running jobs were cancelled".to_string();
                if let Err(e) = scheduler
                    .state
                    .executor_manager
                    .remove_executor(executor, Some(reason))
                    .await
                {
                    tracing::error!(%executor, error = %e, "could not remove the lost executor");
                }
            }
        }
    }
}

/// The executors `/readyz` counts: active, with a heartbeat within `executor_timeout` seconds
/// (Ballista's own test, on its whole-second clock).
fn alive_executors(state: &dyn ClusterState, executor_timeout: u64) -> HashSet<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let threshold = now.saturating_sub(executor_timeout);
    state
        .executor_heartbeats()
        .into_iter()
        .filter(|(_, heartbeat)| {
            let active = matches!(
                heartbeat.status.as_ref().and_then(|s| s.status.as_ref()),
                Some(executor_status::Status::Active(_))
            );
            active && heartbeat.timestamp > threshold
        })
        .map(|(id, _)| id)
        .collect()
}

/// Run an executor until the process is stopped (or the scheduler tells it to stop).
pub async fn run_executor(opts: &ExecutorOptions) -> Result<(), NodeError> {
    socket(&opts.bind)?;
    let grpc_port = opts
        .bind
        .port
        .checked_add(1)
        .ok_or_else(|| NodeError::Bind {
            address: opts.bind.to_string(),
            reason: "the executor also needs the next port, for gRPC".into(),
        })?;
    let work =
        ScratchDir::new(opts.work_dir.as_deref(), "povcensus-executor-").map_err(|source| {
            NodeError::WorkDir {
                path: opts
                    .work_dir
                    .as_ref()
                    .map_or_else(std::env::temp_dir, PathBuf::clone)
                    .display()
                    .to_string(),
                source,
            }
        })?;
    let work_dir = work.path().to_path_buf();
    let runtime_dir = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: opts.bind.host.clone(),
        port: opts.bind.port,
        grpc_port,
        scheduler_host: opts.scheduler.host.clone(),
        scheduler_port: opts.scheduler.port,
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.threads.max(1),
        work_dir: Some(work_dir.display().to_string()),
        memory_pool_size: Some(opts.memory_limit as u64),
        executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
        // A backstop to the scheduler's removal of finished jobs' files.
        job_data_ttl_seconds: 3600,
        job_data_clean_up_interval_seconds: 300,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(function_registry())),
        override_config_producer: Some(Arc::new(node_config)),
        override_runtime_producer: Some(Arc::new(move |config: &SessionConfig| {
            node_runtime(config, &runtime_dir)
        })),
        ..ExecutorProcessConfig::default()
    };
    eprintln!(
        "povcensus {} executor on {} (gRPC port {grpc_port}), scheduler df://{}, {} task slots, \
         memory limit {} MiB",
        env!("CARGO_PKG_VERSION"),
        opts.bind,
        opts.scheduler,
        config.vcores,
        opts.memory_limit >> 20
    );
    let outcome = start_executor_process(Arc::new(config)).await;
    drop(work);
    outcome.map_err(|source| NodeError::Ballista {
        node: "executor",
        source,
    })
}
