//! The nodes of a Ballista cluster (`povcensus cluster scheduler|executor|status`), and the
//! `--cluster df://HOST:PORT` option of `run`, `report` and `sql`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::engine::cluster::{Address, Cluster, EXECUTOR_PORT, SCHEDULER_PORT};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub node: Node,
}

#[derive(Debug, Subcommand)]
pub enum Node {
    /// Run a scheduler: it plans the queries of `--cluster df://HOST:PORT` and hands their
    /// tasks to the executors (gRPC, and HTTP /healthz and /readyz, on one port).
    Scheduler {
        /// Address and port to listen on (127.0.0.1: only this machine; 0.0.0.0: every
        /// network of this machine).
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: String,
        /// Seconds without a heartbeat after which an executor is taken as lost and its
        /// tasks are run on the others.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        executor_timeout: u64,
    },
    /// Run an executor: it registers with the scheduler and runs query tasks (Arrow Flight
    /// on PORT, gRPC on PORT+1).
    Executor {
        /// The scheduler's address.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address and port to listen on (the port after it is used too).
        #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
        bind: String,
        /// Memory for query execution on this node, shared by its task slots; operators
        /// spill to the work directory beyond it (e.g. 8GiB).
        #[arg(long, default_value = "2GiB", value_parser = crate::engine::parse_size)]
        memory_limit: usize,
        /// Where to make the executor's private work directory (shuffle and spill files,
        /// removed when the executor stops). Default: the system temporary directory.
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Task slots (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Ask a scheduler whether it answers and how many executors it has (exit 0 when it has
    /// one or more).
    Status {
        /// The scheduler's address.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
    },
}

/// Runs `povcensus cluster …`.
pub(super) async fn run(args: ClusterArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    match args.node {
        Node::Scheduler {
            bind,
            executor_timeout,
        } => {
            let opts = crate::node::SchedulerOptions {
                bind: Address::parse(&bind, SCHEDULER_PORT)?,
                executor_timeout: executor_timeout.max(1),
            };
            crate::node::run_scheduler(&opts).await?;
        }
        Node::Executor {
            scheduler,
            bind,
            memory_limit,
            work_dir,
            threads,
        } => {
            let opts = crate::node::ExecutorOptions {
                scheduler: Address::parse(&scheduler, SCHEDULER_PORT)?,
                bind: Address::parse(&bind, EXECUTOR_PORT)?,
                memory_limit,
                work_dir,
                threads: threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            };
            crate::node::run_executor(&opts).await?;
        }
        Node::Status { scheduler } => {
            let address = Address::parse(&scheduler, SCHEDULER_PORT)?;
            let answer = crate::engine::cluster::probe(&address, Duration::ZERO).await?;
            writeln!(std::io::stdout().lock(), "{}: {answer}", address.url())?;
        }
    }
    Ok(0)
}

/// `--cluster`: where the SQL of `run`, `report` and `sql` runs.
#[derive(Debug, Args)]
pub struct ClusterTarget {
    /// Run the SQL on a Ballista cluster whose scheduler is at df://HOST:PORT (see
    /// `povcensus cluster`). Every node must reach the warehouse: s3://, or a path shared by
    /// every machine.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

/// How long `--cluster` waits for a scheduler without executors to get one.
const EXECUTOR_WAIT: Duration = Duration::from_secs(10);

impl ClusterTarget {
    /// The cluster to submit to, checked: its scheduler answers and has an executor. The
    /// object-store settings of an s3:// `warehouse` travel with every query; for a local
    /// `warehouse`, a warning when executors on other machines may not see it.
    pub async fn connect(&self, warehouse: &str) -> anyhow::Result<Option<Cluster>> {
        let Some(text) = &self.cluster else {
            return Ok(None);
        };
        let scheduler = Address::parse(text, SCHEDULER_PORT)?;
        let ready = crate::engine::cluster::probe(&scheduler, EXECUTOR_WAIT).await?;
        tracing::info!(scheduler = %scheduler.url(), "{ready}");
        let settings = if warehouse.starts_with("s3://") {
            crate::engine::cluster::s3_settings_from_env()
        } else {
            if !scheduler.is_loopback() {
                tracing::warn!(
                    "the warehouse {warehouse} is a local path: every executor must see it at \
                     the same path (a shared file system), or its tasks fail; an s3:// \
                     warehouse is reachable from every machine"
                );
            }
            Vec::new()
        };
        Ok(Some(Cluster {
            scheduler,
            settings,
        }))
    }
}
