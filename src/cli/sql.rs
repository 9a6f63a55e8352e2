//! SQL over the warehouse or an extract: `povcensus sql`.

use std::path::PathBuf;

use clap::Args;

use super::{EngineArgs, LimitArgs};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").args(["warehouse", "extract"])))]
pub struct SqlArgs {
    /// The warehouse to query (default: POVCENSUS_WAREHOUSE when neither --warehouse nor
    /// --extract is given).
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
}

/// Runs `povcensus sql`.
pub(super) async fn run(args: SqlArgs) -> anyhow::Result<u8> {
    let engine = args.engine.config(None);
    let ctx = crate::engine::session(&engine)?;
    let runner =
        crate::engine::guard::QueryRunner::new(args.limits.limits(None, None), engine.threads)?;
    // The survey functions of the exit assessment, for statisticians at the prompt.
    crate::assessment::register(&ctx);
    if let Some(dir) = &args.extract {
        crate::extract::register(&ctx, dir).await?;
    } else {
        let warehouse = source_warehouse(args.warehouse.as_deref())?;
        let wh = crate::warehouse::Warehouse::open(&warehouse, false)?;
        let snapshot = wh.snapshot_as_of(args.as_of).await?;
        if snapshot.is_none() {
            tracing::warn!("the warehouse has no committed snapshot yet: every table is empty");
        }
        wh.register(&ctx, snapshot.as_ref())?;
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
    Ok(0)
}

/// The warehouse of `sql` without `--extract`: `--warehouse`, else POVCENSUS_WAREHOUSE. Read
/// here rather than by clap, so that the variable never clashes with `--extract`.
fn source_warehouse(arg: Option<&str>) -> anyhow::Result<String> {
    if let Some(w) = arg {
        return Ok(w.to_string());
    }
    match std::env::var(super::WAREHOUSE_ENV) {
        Ok(w) if !w.trim().is_empty() => Ok(w),
        _ => anyhow::bail!(
            "no warehouse to query: pass --warehouse WH or --extract DIR (or set {})",
            super::WAREHOUSE_ENV
        ),
    }
}
