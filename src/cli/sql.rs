//! SQL over the warehouse or an extract: `povcensus sql`.

use std::path::PathBuf;

use std::sync::Arc;

use clap::Args;

use crate::engine::cluster::SharedScratch;

use super::{ClusterTarget, EngineArgs, LimitArgs};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["warehouse", "extract"])))]
pub struct SqlArgs {
    /// The warehouse to query.
    #[arg(long)]
    pub warehouse: Option<String>,
    /// A research extract directory instead: only its tables are visible.
    #[arg(long)]
    pub extract: Option<PathBuf>,
    /// Read the warehouse as of this snapshot (see `povcensus versions`).
    #[arg(long)]
    pub as_of: Option<u64>,
    /// The statement(s) to run; without it, statements are read interactively (or from
    /// standard input when it is not a terminal).
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::console::OutputFormat,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub cluster: ClusterTarget,
}

/// Runs `povcensus sql`.
pub(super) async fn run(args: SqlArgs) -> anyhow::Result<u8> {
    let mut engine = args.engine.config(None);
    if let Some(warehouse) = &args.warehouse {
        engine.cluster = args.cluster.connect(warehouse).await?;
    } else if args.cluster.cluster.is_some() {
        anyhow::bail!(
            "--cluster runs SQL over a warehouse every node reads, not over a local extract"
        );
    }
    let ctx = crate::engine::session(&engine)?;
    let runner =
        crate::engine::guard::QueryRunner::new(args.limits.limits(None, None), engine.threads)?;
    // The survey functions of the exit assessment, for statisticians at the prompt.
    crate::assessment::register(&ctx);
    // On a cluster, the warehouse's empty tables as Parquet every node reads (removed at the
    // end, or when dropped).
    let mut scratch = None;
    if let Some(dir) = &args.extract {
        crate::extract::register(&ctx, dir).await?;
    } else if let Some(warehouse) = &args.warehouse {
        let wh = crate::warehouse::Warehouse::open(warehouse, false)?;
        let snapshot = wh.snapshot_as_of(args.as_of).await?;
        if snapshot.is_none() {
            tracing::warn!("the warehouse has no committed snapshot yet: every table is empty");
        }
        wh.register(&ctx, snapshot.as_ref())?;
        if engine.cluster.is_some() {
            let l = &wh.location;
            let s = SharedScratch::new(Arc::clone(&l.store), l.store_url.clone(), &l.prefix);
            s.ship_in_memory_tables(&ctx).await?;
            scratch = Some(s);
        }
    }
    runner.guard(&ctx);
    let script = match &args.command {
        Some(c) => Some(c.clone()),
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => None,
        None => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            Some(s)
        }
    };
    match script {
        Some(script) => {
            for stmt in crate::console::split_statements(&script) {
                let answer = runner.run(&ctx, &stmt).await?;
                crate::console::write_batches(
                    &mut std::io::stdout().lock(),
                    &answer.batches,
                    args.format,
                )?;
            }
        }
        None => crate::console::repl(&ctx, &runner, args.format).await?,
    }
    if let Some(s) = scratch {
        s.remove().await;
    }
    Ok(0)
}
