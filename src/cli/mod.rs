//! The command-line interface: the argument structs of each command, in one module per
//! command (`cli/<command>.rs`, holding its arguments and what it runs), and the dispatch. `main.rs` parses, sets up logging, calls [`run`] and maps the outcome to an exit
//! status; this is the edge where errors become `anyhow` reports.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod cluster;
mod diff;
mod extract;
mod generate;
mod hint;
mod ingest;
mod pipelines;
mod report;
mod run;
mod serve;
mod sql;
mod validate;
mod versions;

pub use cluster::{ClusterArgs, ClusterTarget};
pub use diff::DiffArgs;
pub use extract::ExtractArgs;
pub use generate::GenerateArgs;
pub use hint::hint;
pub use ingest::IngestArgs;
pub use pipelines::{CheckArgs, PipelinesArgs};
pub use report::ReportArgs;
pub use run::RunArgs;
pub use serve::ServeArgs;
pub use sql::SqlArgs;
pub use validate::ValidateArgs;
pub use versions::VersionsArgs;

/// povcensus: the 2020–2021 national poverty-alleviation census, from province submissions
/// to indicators, exit assessments and reports.
#[derive(Debug, Parser)]
#[command(name = "povcensus", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v: what the work is doing, -vv: debug, -vvv: trace); RUST_LOG
    /// overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic province submissions (CSV + manifest.json per province).
    Generate(GenerateArgs),
    /// Validate province submissions and load them into the warehouse as new versions.
    Ingest(IngestArgs),
    /// Check province submissions as ingest would and print the same report, writing nothing
    /// (what a province office runs before sending).
    Validate(ValidateArgs),
    /// Run SQL over the warehouse tables (one statement with -c, else an interactive prompt).
    Sql(SqlArgs),
    /// List the warehouse's snapshots, when each was committed, and the province versions
    /// each holds.
    Versions(VersionsArgs),
    /// Count the rows added, removed and changed per province and table between two
    /// snapshots (counts only, never a record).
    Diff(DiffArgs),
    /// Run a pipeline (built-in, e.g. `census`, or a definition file) over the warehouse and
    /// write its output tables.
    Run(RunArgs),
    /// List the pipelines with their parameters and defaults.
    Pipelines(PipelinesArgs),
    /// Check a pipeline (names, dependencies, SQL files, parameters) without running it.
    Check(CheckArgs),
    /// Write the reports: national bulletin, statisticians' workbook, evaluator and
    /// data-quality reports (HTML, XLSX), linked from OUT/index.html.
    Report(ReportArgs),
    /// Write the anonymized research extract (pseudonymized, k-anonymous microdata) and its
    /// disclosure-risk report.
    Extract(ExtractArgs),
    /// Serve a research extract over Arrow Flight SQL to researchers with tokens.
    Serve(ServeArgs),
    /// Run a node of an Apache DataFusion Ballista cluster (scheduler or executor) that
    /// `run`, `report` and `sql` can submit their SQL to with --cluster.
    Cluster(ClusterArgs),
}

/// The environment variable that stands for `--warehouse` on every command that takes it.
pub const WAREHOUSE_ENV: &str = "POVCENSUS_WAREHOUSE";

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// How much memory and how many threads queries may use.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Memory for query execution; operators spill to disk beyond it (e.g. 4GiB, 512MiB).
    #[arg(long, default_value = "2GiB", value_parser = crate::engine::parse_size)]
    pub memory_limit: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Join strategy: hash joins (fast, in memory), spill (sort-merge joins that spill to
    /// disk), or auto (spill when the inputs would not fit in half the memory limit).
    #[arg(long, value_enum, default_value = "auto")]
    pub joins: crate::engine::JoinStrategy,
}

impl EngineArgs {
    pub fn config(&self, spill_dir: Option<PathBuf>) -> crate::engine::EngineConfig {
        let mut c = crate::engine::EngineConfig {
            memory_limit: self.memory_limit,
            kept_memory: crate::engine::kept_memory(self.memory_limit),
            spill_dir,
            joins: self.joins,
            ..Default::default()
        };
        if let Some(t) = self.threads {
            c.threads = t;
        }
        c
    }
}

/// What one statement may ask of the machine (`sql` and `serve`).
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The longest statement, in bytes of SQL.
    #[arg(long, default_value_t = crate::engine::guard::DEFAULT_MAX_STATEMENT_BYTES)]
    pub max_statement_bytes: usize,
    /// The deepest nesting of expressions and subqueries, and the most SELECTs and tables one
    /// statement may combine.
    #[arg(long, default_value_t = crate::engine::guard::DEFAULT_MAX_DEPTH)]
    pub max_expression_depth: usize,
    /// Memory of one query (its operators spill beyond it where they can, else it fails), and
    /// the most one batch of a growing function such as repeat() may make.
    #[arg(long, default_value = "512MiB", value_parser = crate::engine::parse_size)]
    pub query_memory_limit: usize,
    /// The largest result of one query (Arrow bytes in memory), beside any row limit.
    #[arg(long, default_value = "256MiB", value_parser = crate::engine::parse_size)]
    pub max_result_bytes: usize,
}

impl LimitArgs {
    /// The limits of one statement; `serve` adds rows, a timeout and bounded joins.
    pub fn limits(
        &self,
        max_rows: Option<usize>,
        timeout: Option<std::time::Duration>,
    ) -> crate::engine::guard::Limits {
        crate::engine::guard::Limits {
            bounded_joins: timeout.is_some(),
            max_statement_bytes: self.max_statement_bytes,
            max_depth: self.max_expression_depth,
            query_memory: self.query_memory_limit,
            max_result_bytes: self.max_result_bytes,
            max_rows,
            timeout,
        }
    }
}

/// Run a command. Returns the exit status: 0 ok, 1 rejected input (errors are status 2).
pub async fn run(command: Command, interactive: bool) -> anyhow::Result<u8> {
    match command {
        Command::Generate(args) => generate::run(args, interactive).await,
        Command::Ingest(args) => ingest::run(args, interactive).await,
        Command::Validate(args) => validate::run(args, interactive).await,
        Command::Sql(args) => sql::run(args).await,
        Command::Versions(args) => versions::run(args).await,
        Command::Diff(args) => diff::run(args, interactive).await,
        Command::Run(args) => run::run(args).await,
        Command::Pipelines(args) => pipelines::pipelines(args),
        Command::Check(args) => pipelines::check(args),
        Command::Report(args) => report::run(args).await,
        Command::Extract(args) => extract::run(args, interactive).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Cluster(args) => cluster::run(args).await,
    }
}
