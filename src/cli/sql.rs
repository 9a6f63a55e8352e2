//! SQL over the warehouse or an extract: `povcensus sql`.

use std::path::PathBuf;

use std::sync::Arc;

use clap::Args;

use crate::engine::cluster::SharedScratch;

use super::{ClusterTarget, EngineArgs, LimitArgs};

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
    /// Write the results to this file instead of standard output (written whole; CSV starts
    /// with a UTF-8 byte order mark, so that Excel reads Chinese text right).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Start CSV on standard output with a UTF-8 byte order mark too.
    #[arg(long)]
    pub bom: bool,
    /// At the prompt, show at most this many rows of a table (the first and last halves;
    /// 0: all). `.maxrows N` changes it.
    #[arg(long, default_value_t = 40)]
    pub max_rows: usize,
    /// At the prompt, show only the columns that fit this width (default: the terminal's;
    /// 0: all). `.maxwidth N` changes it.
    #[arg(long)]
    pub max_width: Option<usize>,
    /// Keep no history of the prompt's statements (else kept, owner-only, in
    /// $XDG_STATE_HOME/povcensus/sql_history or ~/.local/state/povcensus/sql_history, or the
    /// file POVCENSUS_SQL_HISTORY names; set it empty for none).
    #[arg(long)]
    pub no_history: bool,
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
    } else {
        let warehouse = source_warehouse(args.warehouse.as_deref())?;
        let wh = crate::warehouse::Warehouse::open(&warehouse, false)?;
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
        Some(script) => run_script(&ctx, &runner, &script, &args)
            .await
            .map_err(|e| said_as_a_loss(e, &engine))?,
        None => {
            let opts = crate::console::ReplOptions {
                format: args.format,
                display: crate::console::Display {
                    max_rows: args.max_rows,
                    max_width: args
                        .max_width
                        .unwrap_or_else(crate::console::terminal_width),
                },
                history: (!args.no_history)
                    .then(crate::console::history_path)
                    .flatten(),
            };
            crate::console::repl(&ctx, &runner, opts).await?
        }
    }
    if let Some(s) = scratch {
        s.remove().await;
    }
    Ok(0)
}

/// A statement that failed because an executor left the cluster (the scheduler cancelled it,
/// or a task could not fetch the lost executor's results), said as such.
fn said_as_a_loss(error: anyhow::Error, engine: &crate::engine::EngineConfig) -> anyhow::Error {
    let lost = engine.cluster.as_ref().and_then(|cluster| {
        error
            .chain()
            .find_map(|cause| cluster.executor_loss(&cause.to_string()))
    });
    match lost {
        Some(lost) => lost.into(),
        None => error,
    }
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

/// The statements of a script (`-c` or standard input), every result whole: to `--output`
/// (written in a private sibling and moved into place when all statements succeeded) or to
/// standard output.
async fn run_script(
    ctx: &datafusion::prelude::SessionContext,
    runner: &crate::engine::guard::QueryRunner,
    script: &str,
    args: &SqlArgs,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let Some(path) = &args.output else {
        for stmt in crate::console::split_statements(script) {
            let answer = runner.run(ctx, &stmt).await?;
            crate::console::write_batches(
                &mut std::io::stdout().lock(),
                &answer.batches,
                args.format,
                args.bom,
            )?;
        }
        return Ok(());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    for (i, stmt) in crate::console::split_statements(script).iter().enumerate() {
        let answer = runner.run(ctx, stmt).await?;
        let mut w = std::io::BufWriter::new(file.as_file_mut());
        crate::console::write_batches(&mut w, &answer.batches, args.format, i == 0)?;
        std::io::Write::flush(&mut w)?;
    }
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
