//! Flight SQL over a research extract: `povcensus serve`.

use std::path::PathBuf;

use clap::Args;

use super::{EngineArgs, LimitArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The research extract directory (from `povcensus extract`).
    #[arg(long)]
    pub extract: PathBuf,
    /// Researchers' tokens: one `name:token` per line (tokens of 16 characters or more).
    #[arg(long)]
    pub tokens: PathBuf,
    /// TCP port.
    #[arg(long, default_value_t = 32010)]
    pub port: u16,
    /// Address to listen on (127.0.0.1 by default: only this machine).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Append the query log (JSON lines) to this file instead of standard error.
    #[arg(long)]
    pub query_log: Option<PathBuf>,
    /// The most rows one query may return.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_rows: usize,
    /// The longest one query may run, in seconds; then its plan is cancelled.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    /// Statements one researcher may have running at once.
    #[arg(long, default_value_t = 2)]
    pub max_concurrent: usize,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `povcensus serve`.
pub(super) async fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let opts = crate::server::ServeOptions {
        extract: args.extract.clone(),
        tokens: args.tokens.clone(),
        addr: std::net::SocketAddr::new(args.host, args.port),
        query_log: args.query_log.clone(),
        limits: args.limits.limits(
            Some(args.max_rows),
            Some(std::time::Duration::from_secs(args.timeout_secs)),
        ),
        max_concurrent: args.max_concurrent,
        engine: args.engine.config(None),
    };
    crate::server::serve(&opts).await?;
    Ok(0)
}
